/// The admin pages' stylesheet and script, served by the gateway (no build step, no CDN).
enum AdminAssets {
    /// Bumped with every change, so browsers never mix an old stylesheet with a new page.
    static let version = "4"

    static let css = #"""
        :root {
          --bg: #f6f7f9; --surface: #fff; --border: #e4e7ec; --border-strong: #d0d5dd;
          --text: #101828; --muted: #667085; --faint: #98a2b3;
          --accent: #4f46e5; --accent-soft: #eef2ff; --accent-text: #3730a3;
          --green: #067647; --green-soft: #ecfdf3; --amber: #b54708; --amber-soft: #fffaeb;
          --red: #b42318; --red-soft: #fef3f2; --blue: #175cd3; --blue-soft: #eff8ff;
          --radius: 12px; --shadow: 0 1px 2px rgba(16, 24, 40, .05);
          --font: ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "Liberation Sans", Arial, sans-serif;
          color-scheme: light;
        }
        * { box-sizing: border-box; }
        html { -webkit-text-size-adjust: 100%; }
        body { margin: 0; background: var(--bg); color: var(--text); font: 15px/1.5 var(--font); -webkit-font-smoothing: antialiased; }
        a { color: var(--accent); text-decoration: none; }
        a:hover { text-decoration: underline; }
        code { font: 0.9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f2f4f7; padding: 1px 5px; border-radius: 5px; }
        h1 { font-size: 26px; line-height: 1.25; letter-spacing: -0.02em; margin: 0; font-weight: 650; }
        h2 { font-size: 15px; margin: 0 0 12px; font-weight: 600; }
        small { color: var(--muted); font-size: 13px; }
        :focus-visible { outline: 3px solid rgba(79, 70, 229, .45); outline-offset: 2px; border-radius: 6px; }
        .visually-hidden { position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
        .skip { position: absolute; left: 12px; top: -48px; background: var(--surface); padding: 8px 12px; border-radius: 8px; z-index: 10; box-shadow: var(--shadow); }
        .skip:focus { top: 12px; }
        .wrap { max-width: 1180px; margin: 0 auto; padding: 0 24px; }

        /* Top bar */
        .topbar { background: var(--surface); border-bottom: 1px solid var(--border); position: sticky; top: 0; z-index: 5; }
        .topbar-inner { display: flex; align-items: center; gap: 28px; height: 60px; }
        .brand { display: flex; align-items: center; gap: 10px; color: var(--text); font-weight: 650; font-size: 16px; letter-spacing: -0.01em; }
        .brand:hover { text-decoration: none; }
        .brand .logo, .signin-brand .logo { color: var(--accent); }
        .nav { display: flex; gap: 4px; flex: 1; }
        .nav a { color: var(--muted); padding: 6px 12px; border-radius: 8px; font-weight: 500; }
        .nav a:hover { background: #f2f4f7; color: var(--text); text-decoration: none; }
        .nav a[aria-current="page"] { color: var(--accent-text); background: var(--accent-soft); }
        .signout { margin: 0; }

        /* Buttons and fields */
        .button { display: inline-flex; align-items: center; justify-content: center; gap: 6px; height: 40px; padding: 0 16px; border-radius: 10px;
          border: 1px solid var(--border-strong); background: var(--surface); color: var(--text); font: 500 14px var(--font); cursor: pointer; box-shadow: var(--shadow); }
        .button:hover { background: #f9fafb; text-decoration: none; }
        .button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
        .button.primary:hover { background: #4338ca; }
        .button.ghost { box-shadow: none; border-color: transparent; background: transparent; color: var(--muted); }
        .button.ghost:hover { background: #f2f4f7; color: var(--text); }
        .button.small { height: 34px; padding: 0 12px; }
        input, select { font: inherit; color: inherit; }
        .field { position: relative; display: flex; align-items: center; }
        .field input, .field select, .stack input {
          height: 42px; width: 100%; border: 1px solid var(--border-strong); border-radius: 10px; background: var(--surface); padding: 0 14px; box-shadow: var(--shadow);
          transition: border-color .15s, box-shadow .15s; }
        .field input:focus, .field select:focus, .stack input:focus { outline: none; border-color: #a5b4fc; box-shadow: 0 0 0 4px rgba(79, 70, 229, .14); }
        .field.search { flex: 1; }
        .field.search .icon { position: absolute; left: 13px; color: var(--faint); pointer-events: none; }
        .field.search input { padding-left: 40px; padding-right: 40px; }
        .field.search input::-webkit-search-cancel-button { display: none; }
        .shortcut { position: absolute; right: 10px; font: 12px var(--font); color: var(--faint); border: 1px solid var(--border); border-radius: 6px; padding: 1px 7px; background: #f9fafb; }
        .field.search input:focus ~ .shortcut, .field.search input:not(:placeholder-shown) ~ .shortcut { display: none; }
        .field.select { width: 240px; }
        .field.select select { appearance: none; -webkit-appearance: none; padding-right: 38px; cursor: pointer;
          background-image: url("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='20' height='20' viewBox='0 0 20 20'%3E%3Cpath d='m6 8 4 4 4-4' fill='none' stroke='%23667085' stroke-width='1.8' stroke-linecap='round' stroke-linejoin='round'/%3E%3C/svg%3E");
          background-repeat: no-repeat; background-position: right 12px center; }

        /* Page head and toolbar */
        .page-head { padding: 32px 0 20px; }
        .sub { color: var(--muted); margin: 6px 0 0; }
        .toolbar { display: flex; gap: 12px; align-items: center; margin-bottom: 16px; }
        .count { display: flex; justify-content: space-between; gap: 12px; color: var(--muted); font-size: 13px; margin: 0 2px 10px; }
        .count #count { color: var(--text); font-weight: 500; }

        /* The list */
        .table-card, .card { background: var(--surface); border: 1px solid var(--border); border-radius: var(--radius); box-shadow: var(--shadow); }
        .table-card { overflow: hidden; }
        table.list { width: 100%; border-collapse: collapse; }
        .list th { text-align: left; font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; color: var(--muted);
          background: #f9fafb; padding: 11px 16px; border-bottom: 1px solid var(--border); }
        .list td { padding: 14px 16px; border-bottom: 1px solid var(--border); vertical-align: middle; }
        /* Fixed column widths: the table does not jump while it refreshes or filters. */
        .list { table-layout: fixed; }
        .list th:nth-child(1) { width: 36%; } .list th:nth-child(2) { width: 15%; } .list th:nth-child(3) { width: 10%; }
        .list th:nth-child(4) { width: 23%; } .list th:nth-child(5) { width: 16%; }
        .list tbody tr:last-child td { border-bottom: 0; }
        .list tbody tr[data-href] { cursor: pointer; transition: background .1s; }
        .list tbody tr[data-href]:hover, .list tbody tr:focus-within { background: #f9fafb; }
        .chat-link { display: flex; align-items: center; gap: 12px; color: var(--text); }
        .chat-link:hover { text-decoration: none; }
        .chat-link:hover strong { color: var(--accent); }
        .chat-name { display: flex; flex-direction: column; min-width: 0; }
        .chat-name strong { font-weight: 600; overflow-wrap: anywhere; }
        .avatar { flex: none; width: 36px; height: 36px; border-radius: 50%; display: inline-grid; place-items: center; font-size: 13px; font-weight: 650;
          color: var(--accent-text); background: var(--accent-soft); letter-spacing: .02em; }
        .avatar.large { width: 52px; height: 52px; font-size: 18px; }
        .cell-time time { display: block; font-weight: 500; font-variant-numeric: tabular-nums; white-space: nowrap; }
        .cell-time small { white-space: nowrap; }
        .step { color: var(--muted); white-space: nowrap; }
        .step strong { color: var(--text); font-weight: 600; }
        .channel { display: inline-flex; align-items: center; gap: 6px; font-size: 13px; font-weight: 500; padding: 3px 10px; border-radius: 999px;
          background: #f2f4f7; color: #344054; white-space: nowrap; }
        .channel::before { content: ""; width: 7px; height: 7px; border-radius: 50%; background: var(--faint); }
        .channel.telegram::before { background: #229ed9; }
        .channel.whatsapp::before { background: #25d366; }
        .channel.widget::before { background: var(--accent); }
        .channel.email::before { background: #f79009; }
        .badge { display: inline-block; font-size: 12px; font-weight: 600; padding: 2px 9px; border-radius: 999px; background: #f2f4f7; color: #344054; }
        .badge.scheduled { background: var(--blue-soft); color: var(--blue); }
        .badge.sending { background: var(--amber-soft); color: var(--amber); }
        .badge.danger { background: var(--red-soft); color: var(--red); }
        .badge.muted { background: #f2f4f7; color: var(--muted); }
        .empty { text-align: center; padding: 56px 24px; background: var(--surface); border: 1px dashed var(--border-strong); border-radius: var(--radius); }
        .empty .empty-icon { color: var(--faint); }
        .empty h1, .empty h2 { margin: 12px 0 6px; font-size: 18px; }
        .empty p { color: var(--muted); max-width: 560px; margin: 0 auto 14px; }

        /* A chat */
        .back { display: inline-flex; align-items: center; gap: 4px; margin: 24px 0 12px; color: var(--muted); font-weight: 500; }
        .back:hover { color: var(--text); text-decoration: none; }
        .chat-head { display: flex; align-items: center; gap: 16px; margin-bottom: 24px; }
        .chat-grid { display: grid; grid-template-columns: minmax(0, 1fr) 340px; gap: 20px; align-items: start; margin-bottom: 48px; }
        .card { padding: 20px; }
        .side { display: grid; gap: 16px; position: sticky; top: 80px; }
        .hint { color: var(--muted); font-size: 13px; margin: 8px 0 0; }
        .timeline-card .hint { margin: -6px 0 16px; }
        .timeline { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 10px; }
        .day { text-align: center; margin: 10px 0 2px; font-size: 12px; font-weight: 600; color: var(--faint); text-transform: uppercase; letter-spacing: .05em; }
        .msg { display: flex; flex-direction: column; max-width: 78%; }
        .msg .bubble { padding: 10px 14px; border-radius: 16px; white-space: pre-wrap; overflow-wrap: anywhere; }
        .msg.client { align-self: flex-start; }
        .msg.client .bubble { background: #f2f4f7; border-bottom-left-radius: 6px; }
        .msg.employee, .msg.operator { align-self: flex-end; align-items: flex-end; }
        .msg.employee .bubble { background: var(--accent); color: #fff; border-bottom-right-radius: 6px; }
        .msg.operator .bubble { background: #1d2939; color: #fff; border-bottom-right-radius: 6px; }
        .msg.system { align-self: center; }
        .msg.system .bubble { background: var(--amber-soft); color: var(--amber); font-size: 13px; }
        .msg.undelivered .bubble { background: var(--surface); color: var(--text); border: 1.5px dashed var(--border-strong); }
        .msg-meta { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin-top: 4px; font-size: 12px; color: var(--muted); }
        .tag { background: var(--accent-soft); color: var(--accent-text); padding: 1px 8px; border-radius: 999px; font-weight: 500; }
        .tokens { font-variant-numeric: tabular-nums; }
        .tokens::before { content: "◆ "; color: var(--faint); }
        .decision { position: relative; align-self: stretch; margin: 2px 0; padding: 8px 12px 8px 34px; border-radius: 10px; background: #f9fafb; font-size: 13px; color: #344054; }
        .decision p { margin: 0; }
        .decision time { color: var(--faint); margin-left: 4px; }
        .decision-detail { display: flex; flex-wrap: wrap; gap: 4px 14px; color: var(--muted); margin-top: 2px !important; }
        .decision-detail time { color: inherit; margin: 0; }
        .decision .dot { position: absolute; left: 13px; top: 14px; width: 9px; height: 9px; border-radius: 50%; background: var(--faint); }
        .decision.scheduled .dot { background: var(--blue); }
        .decision.deferred .dot { background: #f79009; }
        .decision.sent .dot { background: #12b76a; }
        .decision.skipped .dot { background: var(--faint); }
        .decision.cancelled .dot { background: #f04438; }
        .decision.finished .dot { background: #344054; }
        .next { display: flex; align-items: center; gap: 8px; margin: 0; font-weight: 500; }
        .next-time { margin: 6px 0 0; font-size: 17px; font-weight: 600; font-variant-numeric: tabular-nums; }
        .next-time small { display: block; font-weight: 400; }
        .toggle-form { margin: 16px 0 0; padding-top: 16px; border-top: 1px solid var(--border); }
        .switch { display: flex; align-items: center; gap: 12px; width: 100%; background: none; border: 0; padding: 4px 0; font: 500 14px var(--font); color: var(--text); cursor: pointer; text-align: left; }
        .switch .track { flex: none; width: 44px; height: 24px; border-radius: 999px; background: var(--border-strong); position: relative; transition: background .15s; }
        .switch .knob { position: absolute; top: 2px; left: 2px; width: 20px; height: 20px; border-radius: 50%; background: #fff; box-shadow: 0 1px 3px rgba(16, 24, 40, .2); transition: transform .15s; }
        .switch[aria-checked="true"] .track { background: var(--accent); }
        .switch[aria-checked="true"] .knob { transform: translateX(20px); }
        .switch-label { flex: 1; }
        .switch-state { color: var(--muted); font-weight: 600; }
        .big-number { font-size: 30px; font-weight: 650; letter-spacing: -0.02em; margin: 0 0 8px; font-variant-numeric: tabular-nums; }
        .facts { margin: 0; display: grid; gap: 10px; }
        .facts div { display: flex; justify-content: space-between; gap: 16px; }
        .facts dt { color: var(--muted); }
        .facts dd { margin: 0; text-align: right; font-weight: 500; }
        .facts.compact { gap: 6px; font-size: 14px; }

        /* Sign in */
        .signin-body { display: grid; place-items: center; min-height: 100vh; padding: 24px; background: radial-gradient(1200px 600px at 50% -10%, #e0e7ff 0%, var(--bg) 60%); }
        .signin { width: 100%; max-width: 400px; }
        .signin-brand { display: flex; align-items: center; justify-content: center; gap: 10px; font-size: 18px; font-weight: 650; margin-bottom: 20px; }
        .signin-brand .logo { width: 30px; height: 30px; }
        .signin-card { padding: 28px; }
        .signin-card h1 { font-size: 22px; }
        .stack { display: grid; gap: 8px; margin-top: 20px; }
        .stack label { font-weight: 500; font-size: 14px; }
        .stack .button { margin-top: 8px; height: 42px; }
        .alert { background: var(--red-soft); color: var(--red); border: 1px solid #fecdca; padding: 10px 12px; border-radius: 10px; margin: 16px 0 0; font-size: 14px; }

        /* Phones */
        @media (max-width: 760px) {
          .wrap { padding: 0 16px; }
          .topbar-inner { gap: 12px; }
          .brand span { display: none; }
          h1 { font-size: 22px; }
          .page-head { padding: 20px 0 14px; }
          .toolbar { flex-direction: column; align-items: stretch; }
          .field.select { width: 100%; }
          .shortcut { display: none; }
          .table-card { background: transparent; border: 0; box-shadow: none; overflow: visible; }
          table.list, .list tbody, .list tr, .list td { display: block; width: 100%; }
          .list thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
          .list tbody { display: grid; gap: 10px; }
          .list tbody tr { display: grid; grid-template-columns: 1fr 1fr; gap: 10px 12px; padding: 14px; background: var(--surface); border: 1px solid var(--border); border-radius: var(--radius); box-shadow: var(--shadow); }
          .list td { padding: 0; border: 0; }
          .list td.cell-chat { grid-column: 1 / -1; }
          .list td:not(.cell-chat)::before { content: attr(data-label); display: block; font-size: 11px; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; color: var(--faint); margin-bottom: 2px; }
          .cell-time small { white-space: normal; }
          .chat-grid { grid-template-columns: 1fr; }
          .side { position: static; order: -1; }
          .msg { max-width: 92%; }
          .count { flex-direction: column; gap: 2px; }
        }
        @media (prefers-reduced-motion: reduce) { * { transition: none !important; } }
        """#

    static let js = #"""
        // Follow-ups page: live search and filter, a list that refreshes itself, whole rows as links.
        (() => {
          "use strict";
          const form = document.querySelector("form[data-live]");
          const results = document.getElementById("results");
          const search = document.getElementById("search");
          if (form && results) {
            let timer = 0;
            let controller = null;
            const query = () => {
              const params = new URLSearchParams(new FormData(form));
              for (const [key, value] of [...params]) if (!value.trim()) params.delete(key);
              return params.toString();
            };
            const refresh = async () => {
              const q = query();
              if (controller) controller.abort();
              controller = new AbortController();
              results.setAttribute("aria-busy", "true");
              try {
                const response = await fetch("/followups/rows" + (q ? "?" + q : ""), {
                  signal: controller.signal, credentials: "same-origin", headers: { "Accept": "text/html" }
                });
                if (response.status === 401) { window.location.reload(); return; }
                if (!response.ok) return;
                results.innerHTML = await response.text();
                history.replaceState(null, "", "/followups" + (q ? "?" + q : ""));
              } catch (error) {
                if (error.name !== "AbortError") console.warn("refresh failed", error);
              } finally {
                results.setAttribute("aria-busy", "false");
              }
            };
            const schedule = (event) => {
              clearTimeout(timer);
              timer = setTimeout(refresh, event.target.tagName === "SELECT" ? 0 : 200);
            };
            form.addEventListener("input", schedule);
            form.addEventListener("change", schedule);
            form.addEventListener("submit", (event) => { event.preventDefault(); clearTimeout(timer); refresh(); });
            setInterval(() => { if (!document.hidden) refresh(); }, 10000);
            document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
            document.addEventListener("keydown", (event) => {
              const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName);
              if (event.key === "/" && !typing && search) { event.preventDefault(); search.focus(); search.select(); }
              if (event.key === "Escape" && document.activeElement === search && search.value) { search.value = ""; refresh(); }
            });
          }
          document.addEventListener("click", (event) => {
            const row = event.target.closest("tr[data-href]");
            if (!row || event.target.closest("a, button, input, select") || window.getSelection().toString()) return;
            if (event.metaKey || event.ctrlKey) window.open(row.dataset.href, "_blank", "noopener");
            else window.location.href = row.dataset.href;
          });
        })();
        """#
}
