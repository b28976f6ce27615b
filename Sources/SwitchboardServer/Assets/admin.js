// Follow-ups and Chats pages: live search and filters, a list that refreshes itself, whole rows
// as links. A chat's page: its history refreshes itself, and the composer sends without a reload.
// Everything works without this script; it only saves reloads.
(() => {
  "use strict";
  const form = document.querySelector("form[data-live]");
  const results = document.getElementById("results");
  const search = document.getElementById("search");
  const rowsURL = form && (form.dataset.live || "/followups/rows");
  const pageURL = form && form.getAttribute("action");
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
        const response = await fetch(rowsURL + (q ? "?" + q : ""), {
          signal: controller.signal, credentials: "same-origin", headers: { "Accept": "text/html" }
        });
        if (response.status === 401) { window.location.reload(); return; }
        if (!response.ok) return;
        results.innerHTML = await response.text();
        history.replaceState(null, "", pageURL + (q ? "?" + q : ""));
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
  const chat = document.querySelector("[data-live-chat]");
  if (chat) {
    // The chat's history and the AI's pause, re-read from the page itself.
    const live = ["timeline", "ai-status", "followup-card", "usage-card", "details-card"];
    const refreshChat = async () => {
      try {
        const response = await fetch(window.location.pathname, { credentials: "same-origin", headers: { "Accept": "text/html" } });
        if (!response.ok) return;
        const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
        for (const id of live) {
          const now = document.getElementById(id);
          const next = fresh.getElementById(id);
          if (now && next && now.innerHTML !== next.innerHTML) {
            now.innerHTML = next.innerHTML;
            now.className = next.className;
          }
        }
      } catch (error) {
        console.warn("refresh failed", error);
      }
    };
    setInterval(() => { if (!document.hidden) refreshChat(); }, 4000);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshChat(); });
    const composer = document.querySelector("form[data-composer]");
    if (composer) {
      const text = composer.querySelector("textarea");
      const send = composer.querySelector("button[type=submit]");
      const error = composer.querySelector(".composer-error");
      composer.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (!text.value.trim()) return;
        send.disabled = true;
        error.hidden = true;
        try {
          const response = await fetch(composer.action, {
            method: "POST", credentials: "same-origin", body: new URLSearchParams(new FormData(composer))
          });
          if (!response.ok) {
            const page = new DOMParser().parseFromString(await response.text(), "text/html");
            error.textContent = "Not sent: " + ((page.querySelector("main p") || {}).textContent || response.statusText);
            error.hidden = false;
            return;
          }
          text.value = "";
          await refreshChat();
        } catch (failure) {
          error.textContent = "Not sent: the gateway could not be reached.";
          error.hidden = false;
        } finally {
          send.disabled = false;
          text.focus();
        }
      });
      text.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); composer.requestSubmit(); }
      });
    }
  }
  document.addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-href]");
    if (!row || event.target.closest("a, button, input, select") || window.getSelection().toString()) return;
    if (event.metaKey || event.ctrlKey) window.open(row.dataset.href, "_blank", "noopener");
    else window.location.href = row.dataset.href;
  });
})();
