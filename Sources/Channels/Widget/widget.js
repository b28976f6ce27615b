/* Switchboard chat widget. Embed with one tag:
 *   <script src="https://<gateway>/widget/<channel-id>/widget.js" async></script>
 * No dependencies and no build step. Protocol: docs/widget-protocol.md. The data-testid
 * attributes (widget-open, widget-input, widget-send, widget-message + data-author) are part of
 * the widget's contract for tests: keep them. */
(function () {
  'use strict';
  var C = /*@config*/{};
  var registry = (window.__switchboardWidgets = window.__switchboardWidgets || {});
  if (registry[C.channel]) return;

  var script = document.currentScript || document.querySelector('script[src*="/widget/' + C.channel + '/widget.js"]');
  var src = new URL(script ? script.src : location.href, location.href);
  var httpBase = src.origin + '/widget/' + encodeURIComponent(C.channel);
  var wsBase = (src.protocol === 'https:' ? 'wss://' : 'ws://') + src.host + '/widget/' + encodeURIComponent(C.channel);
  var storeKey = 'switchboard-widget:' + src.origin + ':' + C.channel;

  // ---- storage (localStorage may be blocked: then memory only) ----
  var saved = {};
  try { saved = JSON.parse(localStorage.getItem(storeKey) || '{}') || {}; } catch (e) { saved = {}; }
  function persist() { try { localStorage.setItem(storeKey, JSON.stringify(saved)); } catch (e) { /* memory only */ } }

  // ---- DOM helpers ----
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'class') node.className = attrs[k];
      else if (attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function svg(path, size) {
    var s = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    s.setAttribute('viewBox', '0 0 24 24'); s.setAttribute('width', size || 24); s.setAttribute('height', size || 24);
    s.setAttribute('aria-hidden', 'true'); s.setAttribute('focusable', 'false');
    var p = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    p.setAttribute('d', path); p.setAttribute('fill', 'currentColor'); s.appendChild(p);
    return s;
  }
  var ICON_CHAT = 'M12 3C6.5 3 2 6.6 2 11c0 2.1 1 4 2.7 5.4L4 21l4.4-2.2c1.1.3 2.3.5 3.6.5 5.5 0 10-3.6 10-8s-4.5-8.3-10-8.3Z';
  var ICON_CLOSE = 'M18.3 5.7a1 1 0 0 0-1.4 0L12 10.6 7.1 5.7a1 1 0 0 0-1.4 1.4l4.9 4.9-4.9 4.9a1 1 0 1 0 1.4 1.4l4.9-4.9 4.9 4.9a1 1 0 0 0 1.4-1.4L13.4 12l4.9-4.9a1 1 0 0 0 0-1.4Z';
  var ICON_SEND = 'M3.4 20.4 21 12 3.4 3.6 3.3 10l12.6 2-12.6 2z';
  var ICON_DOWN = 'M7.4 8.6 12 13.2l4.6-4.6L18 10l-6 6-6-6z';

  var employee = C.employeeName || '';
  var subtitle = C.subtitle || ((employee ? employee + ' · ' : '') + 'Typically replies in a few minutes');

  // ---- styles (scoped under .sbw-root; the host page's own CSS stays untouched) ----
  var css = '' +
    '.sbw-root,.sbw-root *{box-sizing:border-box;margin:0;padding:0;border:0;font:inherit;line-height:inherit;letter-spacing:normal;text-transform:none;text-align:left;color:inherit;background:none;}' +
    '.sbw-root{--a:' + C.accent + ';--at:' + C.accentText + ';position:fixed;bottom:20px;' + (C.position === 'left' ? 'left' : 'right') + ':20px;z-index:2147483000;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#0f172a;-webkit-font-smoothing:antialiased;}' +
    '.sbw-root button{cursor:pointer;}' +
    '.sbw-root :focus-visible{outline:3px solid #2563eb;outline-offset:2px;}' +
    '.sbw-launcher{width:60px;height:60px;border-radius:50%;background:var(--a);color:var(--at);display:flex;align-items:center;justify-content:center;box-shadow:0 8px 24px rgba(15,23,42,.25),0 2px 6px rgba(15,23,42,.15);transition:transform .15s ease;position:relative;margin-' + (C.position === 'left' ? 'right' : 'left') + ':auto;}' +
    '.sbw-launcher:hover{transform:scale(1.05);}' +
    '.sbw-launcher .sbw-i-close{display:none;}.sbw-open .sbw-launcher .sbw-i-chat{display:none;}.sbw-open .sbw-launcher .sbw-i-close{display:block;}' +
    '.sbw-badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:#dc2626;color:#fff;font-size:12px;font-weight:700;line-height:22px;text-align:center;box-shadow:0 0 0 2px #fff;}' +
    '.sbw-teaser{position:absolute;bottom:74px;' + (C.position === 'left' ? 'left' : 'right') + ':0;width:260px;background:#fff;border-radius:14px;padding:12px 34px 12px 14px;box-shadow:0 10px 30px rgba(15,23,42,.18);font-size:14px;color:#1e293b;cursor:pointer;animation:sbw-in .25s ease;}' +
    '.sbw-teaser b{display:block;font-weight:600;margin-bottom:2px;}' +
    '.sbw-teaser button{position:absolute;top:8px;right:8px;color:#94a3b8;width:20px;height:20px;display:flex;align-items:center;justify-content:center;border-radius:50%;}' +
    '.sbw-panel{position:absolute;bottom:76px;' + (C.position === 'left' ? 'left' : 'right') + ':0;width:380px;height:600px;max-height:calc(100vh - 110px);background:#fff;border-radius:18px;box-shadow:0 16px 48px rgba(15,23,42,.22),0 2px 8px rgba(15,23,42,.08);display:flex;flex-direction:column;overflow:hidden;animation:sbw-in .2s ease;}' +
    '.sbw-panel[hidden],.sbw-root [hidden]{display:none!important;}' +
    '@keyframes sbw-in{from{opacity:0;transform:translateY(8px);}to{opacity:1;transform:none;}}' +
    '.sbw-header{background:var(--a);color:var(--at);padding:16px 14px 16px 16px;display:flex;align-items:center;gap:12px;}' +
    '.sbw-avatar{width:42px;height:42px;flex:none;border-radius:50%;background:rgba(255,255,255,.22);color:var(--at);display:flex;align-items:center;justify-content:center;font-weight:700;font-size:18px;position:relative;}' +
    '.sbw-avatar::after{content:"";position:absolute;right:0;bottom:1px;width:11px;height:11px;border-radius:50%;background:#22c55e;box-shadow:0 0 0 2px var(--a);}' +
    '.sbw-heading{flex:1;min-width:0;}' +
    '.sbw-title{font-size:16px;font-weight:650;line-height:1.25;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;}' +
    '.sbw-subtitle{font-size:13px;opacity:.88;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;}' +
    '.sbw-close{width:34px;height:34px;border-radius:50%;display:flex;align-items:center;justify-content:center;color:var(--at);opacity:.9;}' +
    '.sbw-close:hover{background:rgba(255,255,255,.16);}' +
    '.sbw-status{background:#fef3c7;color:#78350f;font-size:13px;padding:7px 16px;display:flex;gap:8px;align-items:center;}' +
    '.sbw-status button{text-decoration:underline;font-weight:600;}' +
    '.sbw-log{flex:1;overflow-y:auto;padding:16px 14px 8px;background:#f8fafc;display:flex;flex-direction:column;gap:4px;overscroll-behavior:contain;}' +
    '.sbw-day{align-self:center;font-size:12px;color:#64748b;background:#eef2f7;border-radius:10px;padding:2px 10px;margin:10px 0 6px;}' +
    '.sbw-row{display:flex;flex-direction:column;max-width:82%;margin-top:4px;}' +
    '.sbw-row[data-author=client]{align-self:flex-end;align-items:flex-end;}' +
    '.sbw-row[data-author=employee]{align-self:flex-start;align-items:flex-start;}' +
    '.sbw-bubble{padding:9px 13px;border-radius:16px;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word;}' +
    '.sbw-row[data-author=employee] .sbw-bubble{background:#fff;color:#0f172a;border:1px solid #e2e8f0;border-bottom-left-radius:5px;}' +
    '.sbw-row[data-author=client] .sbw-bubble{background:var(--a);color:var(--at);border-bottom-right-radius:5px;}' +
    '.sbw-bubble a{color:inherit;text-decoration:underline;}' +
    '.sbw-meta{font-size:11.5px;color:#64748b;margin:3px 6px 0;}' +
    '.sbw-row[data-state=pending] .sbw-bubble{opacity:.65;}' +
    '.sbw-row[data-state=failed] .sbw-meta{color:#b91c1c;}' +
    '.sbw-row[data-state=failed] .sbw-meta button{color:#b91c1c;text-decoration:underline;font-weight:600;font-size:11.5px;}' +
    '.sbw-typing{align-self:flex-start;background:#fff;border:1px solid #e2e8f0;border-radius:16px;border-bottom-left-radius:5px;padding:11px 14px;display:flex;gap:4px;margin-top:4px;}' +
    '.sbw-typing i{width:7px;height:7px;border-radius:50%;background:#94a3b8;animation:sbw-dot 1.2s infinite ease-in-out;}' +
    '.sbw-typing i:nth-child(2){animation-delay:.15s;}.sbw-typing i:nth-child(3){animation-delay:.3s;}' +
    '@keyframes sbw-dot{0%,60%,100%{transform:none;opacity:.5;}30%{transform:translateY(-4px);opacity:1;}}' +
    '.sbw-more{align-self:center;font-size:12px;color:#64748b;margin-bottom:6px;}' +
    '.sbw-profile{padding:12px 14px;border-top:1px solid #e2e8f0;display:grid;gap:8px;background:#fff;}' +
    '.sbw-profile p{font-size:13px;color:#475569;}' +
    '.sbw-field{width:100%;border:1px solid #cbd5e1;border-radius:10px;padding:8px 11px;font-size:14px;background:#fff;}' +
    '.sbw-field:focus{border-color:var(--a);outline:none;box-shadow:0 0 0 3px rgba(37,99,235,.15);}' +
    '.sbw-actions{display:flex;gap:8px;justify-content:flex-end;}' +
    '.sbw-btn{border-radius:9px;padding:7px 14px;font-size:14px;font-weight:600;}' +
    '.sbw-primary{background:var(--a);color:var(--at);}.sbw-secondary{color:#475569;}' +
    '.sbw-composer{display:flex;align-items:flex-end;gap:8px;padding:10px 10px 10px 14px;border-top:1px solid #e2e8f0;background:#fff;}' +
    '.sbw-input{flex:1;resize:none;max-height:120px;min-height:40px;padding:9px 4px;font-size:15px;color:#0f172a;background:transparent;outline:none;}' +
    '.sbw-input::placeholder{color:#94a3b8;}.sbw-root .sbw-input:focus-visible{outline:none;}' +
    '.sbw-composer:focus-within{box-shadow:inset 0 2px 0 var(--a);}' +
    '.sbw-send{width:40px;height:40px;flex:none;border-radius:50%;background:var(--a);color:var(--at);display:flex;align-items:center;justify-content:center;}' +
    '.sbw-send:disabled{opacity:.4;cursor:default;}' +
    '.sbw-footer{display:flex;justify-content:space-between;align-items:center;padding:0 14px 10px;background:#fff;font-size:12px;color:#94a3b8;}' +
    '.sbw-link{color:#475569;text-decoration:underline;text-underline-offset:2px;font-size:12px;}' +
    '@media (max-width:480px){.sbw-root{bottom:14px;' + (C.position === 'left' ? 'left' : 'right') + ':14px;}' +
    '.sbw-panel{position:fixed;inset:0;width:100%;height:100%;height:100dvh;max-height:none;border-radius:0;}' +
    '.sbw-open .sbw-launcher,.sbw-open .sbw-teaser{display:none;}.sbw-input{font-size:16px;}' +
    // On a phone the teaser sits beside the launcher, in the corner strip the launcher already
    // takes, rather than above it over the host page's own buttons.
    '.sbw-teaser{bottom:0;' + (C.position === 'left' ? 'left' : 'right') + ':72px;width:min(260px,calc(100vw - 100px));min-height:60px;padding:9px 32px 9px 12px;font-size:13px;line-height:1.35;}' +
    '.sbw-teaser b,.sbw-teaser span{display:block;overflow:hidden;white-space:nowrap;text-overflow:ellipsis;}.sbw-teaser span{display:-webkit-box;white-space:normal;-webkit-line-clamp:2;-webkit-box-orient:vertical;}' +
    '.sbw-teaser button{top:6px;right:6px;}}' +
    '@media (prefers-reduced-motion:reduce){.sbw-root *{animation:none!important;transition:none!important;}}';

  // ---- the markup ----
  var panelID = 'sbw-panel-' + C.channel;
  var badge = el('span', { 'class': 'sbw-badge', 'data-testid': 'widget-unread', hidden: '' });
  var iconChat = svg(ICON_CHAT, 28); iconChat.setAttribute('class', 'sbw-i-chat');
  var iconClose = svg(ICON_DOWN, 30); iconClose.setAttribute('class', 'sbw-i-close');
  var launcher = el('button', {
    type: 'button', 'class': 'sbw-launcher', 'data-testid': 'widget-open', 'aria-label': C.launcherLabel,
    title: C.launcherLabel, 'aria-expanded': 'false', 'aria-controls': panelID
  }, [iconChat, iconClose, badge]);
  var teaserClose = el('button', { type: 'button', 'aria-label': 'Dismiss' }, [svg(ICON_CLOSE, 14)]);
  var teaser = el('div', { 'class': 'sbw-teaser', role: 'status', 'data-testid': 'widget-teaser', hidden: '' },
    [el('b', { text: employee ? employee + ' · ' + C.title : C.title }), el('span', { text: C.greeting }), teaserClose]);
  var closeButton = el('button', { type: 'button', 'class': 'sbw-close', 'aria-label': 'Close chat', 'data-testid': 'widget-close' }, [svg(ICON_CLOSE, 20)]);
  var subtitleNode = el('p', { 'class': 'sbw-subtitle', text: subtitle });
  var avatar = el('div', { 'class': 'sbw-avatar', 'aria-hidden': 'true', text: (employee || C.title || '?').trim().charAt(0).toUpperCase() });
  var header = el('header', { 'class': 'sbw-header' }, [avatar,
    el('div', { 'class': 'sbw-heading' }, [el('h2', { 'class': 'sbw-title', text: C.title }), subtitleNode]), closeButton]);
  var statusText = el('span');
  var statusAction = el('button', { type: 'button', hidden: '' });
  var status = el('div', { 'class': 'sbw-status', role: 'status', 'data-testid': 'widget-status', hidden: '' }, [statusText, statusAction]);
  var log = el('div', { 'class': 'sbw-log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation', 'data-testid': 'widget-log' });
  var greeting = el('div', { 'class': 'sbw-row', 'data-author': 'employee', 'data-testid': 'widget-greeting' },
    [el('div', { 'class': 'sbw-bubble', text: C.greeting })]);
  log.appendChild(greeting);
  var typing = el('div', { 'class': 'sbw-typing', 'aria-label': (employee || 'We') + ' is typing', hidden: '' }, [el('i'), el('i'), el('i')]);
  log.appendChild(typing);
  var input = el('textarea', {
    'class': 'sbw-input', rows: '1', maxlength: String(C.maxTextLength || 4000), placeholder: 'Write a message…',
    'aria-label': 'Message', 'data-testid': 'widget-input'
  });
  var send = el('button', { type: 'submit', 'class': 'sbw-send', 'aria-label': 'Send message', 'data-testid': 'widget-send', disabled: '' }, [svg(ICON_SEND, 20)]);
  var composer = el('form', { 'class': 'sbw-composer' }, [input, send]);
  var nameField = el('input', { 'class': 'sbw-field', type: 'text', maxlength: '80', autocomplete: 'name', placeholder: 'Your name', 'aria-label': 'Your name (optional)', 'data-testid': 'widget-name' });
  var emailField = el('input', { 'class': 'sbw-field', type: 'email', maxlength: '254', autocomplete: 'email', placeholder: 'Email, for our reply if you leave', 'aria-label': 'Your email (optional)', 'data-testid': 'widget-email' });
  var profileCancel = el('button', { type: 'button', 'class': 'sbw-btn sbw-secondary', text: 'Cancel' });
  var profileForm = el('form', { 'class': 'sbw-profile', hidden: '', 'data-testid': 'widget-profile' }, [
    el('p', { text: 'Both optional — so we know who we are talking to.' }), nameField, emailField,
    el('div', { 'class': 'sbw-actions' }, [profileCancel, el('button', { type: 'submit', 'class': 'sbw-btn sbw-primary', text: 'Save', 'data-testid': 'widget-profile-save' })])]);
  var profileLink = el('button', { type: 'button', 'class': 'sbw-link', 'data-testid': 'widget-profile-open', text: 'Add your name' });
  var footer = el('div', { 'class': 'sbw-footer' }, [C.askContact ? profileLink : el('span'), el('span', { text: 'Powered by Switchboard' })]);
  var panel = el('section', { 'class': 'sbw-panel', id: panelID, role: 'dialog', 'aria-modal': 'false', 'aria-label': C.title, hidden: '', 'data-testid': 'widget-panel' },
    [header, status, log, profileForm, composer, footer]);
  var root = el('div', { 'class': 'sbw-root', 'data-switchboard-widget': C.channel }, [teaser, panel, launcher]);
  var style = el('style', { 'data-switchboard-widget': C.channel }); style.textContent = css;

  // ---- conversation state ----
  var bySeq = {};          // seq → row: a message is shown once, whatever arrives twice
  var byClientID = {};     // client_msg_id → row of the visitor's own messages
  var unacked = {};        // client_msg_id → text, resent after a reconnect until acked
  var lastSeq = null;      // the highest seq this page shows (sent in auth)
  var lastDay = '';
  var unread = 0;
  var isOpen = false;
  var profile = { name: null, email: null };

  function fmtTime(d) { return d.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' }); }
  function dayLabel(d) {
    var today = new Date(); var y = new Date(); y.setDate(today.getDate() - 1);
    if (d.toDateString() === today.toDateString()) return 'Today';
    if (d.toDateString() === y.toDateString()) return 'Yesterday';
    return d.toLocaleDateString([], { weekday: 'short', month: 'short', day: 'numeric' });
  }
  function linkify(node, text) {
    var re = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g, at = 0, m;
    while ((m = re.exec(text))) {
      node.appendChild(document.createTextNode(text.slice(at, m.index)));
      node.appendChild(el('a', { href: m[0], target: '_blank', rel: 'noopener noreferrer nofollow', text: m[0] }));
      at = m.index + m[0].length;
    }
    node.appendChild(document.createTextNode(text.slice(at)));
  }
  function nearBottom() { return log.scrollHeight - log.scrollTop - log.clientHeight < 80; }
  function scrollDown(force) { if (force || nearBottom()) log.scrollTop = log.scrollHeight; }

  function addRow(author, text, when, seq, clientID) {
    var stick = nearBottom();
    var dated = when || new Date();  // a message being sent belongs to today
    if (dated.toDateString() !== lastDay) { lastDay = dated.toDateString(); log.insertBefore(el('div', { 'class': 'sbw-day', text: dayLabel(dated) }), typing); }
    var bubble = el('div', { 'class': 'sbw-bubble' }); linkify(bubble, text);
    var meta = el('div', { 'class': 'sbw-meta', text: when ? fmtTime(when) : 'Sending…' });
    var row = el('div', { 'class': 'sbw-row', 'data-testid': 'widget-message', 'data-author': author }, [bubble, meta]);
    if (seq !== null && seq !== undefined) row.setAttribute('data-seq', String(seq));
    if (clientID) row.setAttribute('data-client-id', clientID);
    log.insertBefore(row, typing);
    scrollDown(stick || author === 'client');
    return row;
  }

  function onMessage(f) {
    if (lastSeq === null || f.seq > lastSeq) lastSeq = f.seq;
    if (bySeq[f.seq]) return;
    var when = new Date(f.sent_at);
    var row = f.client_msg_id && byClientID[f.client_msg_id];
    if (row) {
      // The visitor's own message, now stored: it gets its place and time.
      delete unacked[f.client_msg_id];
      row.setAttribute('data-seq', String(f.seq)); row.removeAttribute('data-state');
      row.lastChild.textContent = fmtTime(when);
    } else {
      row = addRow(f.author === 'client' ? 'client' : 'employee', f.text, when, f.seq, f.client_msg_id);
      if (f.client_msg_id) byClientID[f.client_msg_id] = row;
    }
    bySeq[f.seq] = row;
    if (f.author !== 'client') {
      typing.hidden = true;
      if (isOpen && !document.hidden) markRead(); else if (f.seq > (saved.read || 0)) { unread++; showBadge(); }
    }
  }
  function markRead() {
    if (lastSeq !== null && lastSeq > (saved.read || 0)) { saved.read = lastSeq; persist(); }
    unread = 0; showBadge();
  }
  function showBadge() {
    badge.hidden = unread === 0 || isOpen;
    badge.textContent = unread > 9 ? '9+' : String(unread);
    launcher.setAttribute('aria-label', C.launcherLabel + (unread && !isOpen ? ' (' + unread + ' new)' : ''));
  }

  // ---- connection: session → socket → auth → ready; backoff with full jitter ----
  var ws = null, connecting = false, ready = false, attempt = 0, retryTimer = null, upTimer = null;
  var heartbeat = null, lastFrameAt = 0, stopped = false, authFailures = 0;

  function setStatus(text, actionText, action) {
    status.hidden = !text; statusText.textContent = text || '';
    statusAction.hidden = !actionText; statusAction.textContent = actionText || ''; statusAction.onclick = action || null;
  }
  function connect() {
    if (ws || connecting || stopped) return;
    connecting = true; clearTimeout(retryTimer);
    fetch(httpBase + '/session', {
      method: 'POST', mode: 'cors', credentials: 'omit',
      headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
      body: JSON.stringify({ visitor_token: saved.token || null })
    }).then(function (r) {
      if (r.status === 403) { stop('Chat is not available on this site.'); throw null; }
      if (r.status === 429) {
        // Too many new chats from this address: wait as long as the gateway says.
        return r.json().then(function (b) { connecting = false; retry((b && b.retry_after_ms) || 60000); throw null; });
      }
      if (!r.ok) throw new Error('session ' + r.status);
      return r.json();
    }).then(function (s) {
      saved.token = s.visitor_token; persist();
      open(s.visitor_token);
    }).catch(function (e) { connecting = false; if (e !== null) retry(); });
  }
  function open(token) {
    var socket;
    try { socket = new WebSocket(wsBase + '/ws'); } catch (e) { connecting = false; retry(); return; }
    ws = socket; connecting = false; ready = false;
    socket.onopen = function () {
      lastFrameAt = Date.now();
      socket.send(JSON.stringify({ type: 'auth', visitor_token: token, last_seq: lastSeq }));
    };
    socket.onmessage = function (ev) {
      lastFrameAt = Date.now();
      var f; try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.type === 'message') onMessage(f);
      else if (f.type === 'ready') onReady(f);
      else if (f.type === 'ack') onAck(f);
      else if (f.type === 'error') onError(f);
      else if (f.type === 'profile') setProfile(f);
    };
    socket.onclose = function (ev) {
      if (ws !== socket) return;
      ws = null; ready = false; clearInterval(heartbeat); clearTimeout(upTimer);
      if (ev.code === 4401) {
        // The token was refused: start over as a new visitor, once.
        saved.token = null; persist();
        if (++authFailures > 1) return stop('Chat is unavailable right now.');
        return connect();
      }
      if (ev.code === 4403) return stop('Chat is not available on this site.');
      if (ev.code === 4409) {
        setStatus('This chat continued in another tab.', 'Use it here', function () { stopped = false; setStatus(''); connect(); });
        stopped = true; return;
      }
      retry(ev.code === 4429 ? 30000 : 0);
    };
  }
  function retry(floor) {
    if (stopped) return;
    // Full jitter: random(0, min(30 s, 1 s × 2^attempt)), so a restarted gateway is not stampeded.
    var delay = Math.max(floor || 0, Math.random() * Math.min(30000, 1000 * Math.pow(2, attempt)));
    attempt = Math.min(attempt + 1, 10);
    if (isOpen || Object.keys(unacked).length) setStatus(navigator.onLine === false ? 'You are offline. Messages will be sent when you are back.' : 'Reconnecting…');
    clearTimeout(retryTimer); retryTimer = setTimeout(connect, delay);
  }
  function stop(text) { stopped = true; setStatus(text); input.disabled = true; send.disabled = true; }
  function onReady(f) {
    ready = true; authFailures = 0; setStatus('');
    upTimer = setTimeout(function () { attempt = 0; }, 60000);
    clearInterval(heartbeat);
    heartbeat = setInterval(function () {
      if (!ws) return;
      if (Date.now() - lastFrameAt > 60000) { ws.close(); return; }
      ws.send('{"type":"ping"}');
    }, 25000);
    if (f.employee_name && !C.employeeName) { employee = f.employee_name; }
    if (f.has_more && !log.querySelector('.sbw-more')) log.insertBefore(el('div', { 'class': 'sbw-more', text: 'Earlier messages are not shown' }), greeting.nextSibling);
    setProfile(f.profile || {});
    for (var id in unacked) transmit(id);
    if (pendingProfile) { ws.send(JSON.stringify(pendingProfile)); pendingProfile = null; }
  }
  function onAck(f) {
    var row = byClientID[f.client_msg_id];
    delete unacked[f.client_msg_id];
    if (row && row.getAttribute('data-state') === 'pending') { row.removeAttribute('data-state'); row.lastChild.textContent = 'Sent'; }
    showTyping();
  }
  function onError(f) {
    if (!f.client_msg_id || !byClientID[f.client_msg_id]) return;
    var row = byClientID[f.client_msg_id];
    if (f.code === 'rate_limited' || f.code === 'unavailable') {
      setTimeout(function () { if (unacked[f.client_msg_id] !== undefined) transmit(f.client_msg_id); }, f.retry_after_ms || 3000);
      return;
    }
    delete unacked[f.client_msg_id];
    row.setAttribute('data-state', 'failed');
    row.lastChild.textContent = f.code === 'text_too_long' ? 'Too long — not sent' : 'Not sent';
  }
  var typingTimer = null;
  function showTyping() {
    typing.hidden = false; scrollDown();
    clearTimeout(typingTimer); typingTimer = setTimeout(function () { typing.hidden = true; }, 15000);
  }

  // ---- sending ----
  function newID() {
    var b = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return ('0' + x.toString(16)).slice(-2); }).join('');
  }
  function transmit(id) {
    if (ws && ready && unacked[id] !== undefined) ws.send(JSON.stringify({ type: 'message', client_msg_id: id, text: unacked[id] }));
  }
  function submit() {
    var text = input.value.replace(/^\s+|\s+$/g, '');
    if (!text || stopped) return;
    var id = newID();
    unacked[id] = text;
    var row = addRow('client', text, null, null, id);
    row.setAttribute('data-state', 'pending');
    byClientID[id] = row;
    input.value = ''; autosize(); send.disabled = true;
    if (ready) transmit(id); else connect();
  }
  function autosize() { input.style.height = 'auto'; input.style.height = Math.min(input.scrollHeight, 120) + 'px'; }

  // ---- visitor details ----
  var pendingProfile = null;
  function setProfile(p) {
    profile = { name: p.name || null, email: p.email || null };
    profileLink.textContent = profile.name ? 'Chatting as ' + profile.name + ' · edit' : 'Add your name';
  }
  function openProfile() {
    nameField.value = profile.name || ''; emailField.value = profile.email || '';
    profileForm.hidden = false; nameField.focus();
  }

  // ---- opening and closing ----
  function setOpen(open) {
    isOpen = open;
    panel.hidden = !open;
    root.classList.toggle('sbw-open', open);
    launcher.setAttribute('aria-expanded', String(open));
    launcher.setAttribute('aria-label', open ? 'Close chat' : C.launcherLabel);
    teaser.hidden = true;
    if (open) {
      saved.opened = true; persist();
      connect(); markRead(); scrollDown(true);
      if (window.matchMedia('(min-width: 481px)').matches) input.focus();
    } else {
      showBadge();
    }
  }

  function mount() {
    document.head.appendChild(style);
    document.body.appendChild(root);
    registry[C.channel] = { open: function () { setOpen(true); }, close: function () { setOpen(false); } };
    launcher.addEventListener('click', function () { setOpen(!isOpen); if (!isOpen) launcher.focus(); });
    closeButton.addEventListener('click', function () { setOpen(false); launcher.focus(); });
    teaser.addEventListener('click', function (e) { if (!teaserClose.contains(e.target)) setOpen(true); });
    teaserClose.addEventListener('click', function () { teaser.hidden = true; saved.opened = true; persist(); });
    panel.addEventListener('keydown', function (e) { if (e.key === 'Escape') { setOpen(false); launcher.focus(); } });
    composer.addEventListener('submit', function (e) { e.preventDefault(); submit(); });
    input.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
    });
    input.addEventListener('input', function () { send.disabled = !input.value.trim() || stopped; autosize(); });
    profileLink.addEventListener('click', openProfile);
    profileCancel.addEventListener('click', function () { profileForm.hidden = true; input.focus(); });
    profileForm.addEventListener('submit', function (e) {
      e.preventDefault();
      var frame = { type: 'profile', name: nameField.value.trim(), email: emailField.value.trim() };
      if (ready) ws.send(JSON.stringify(frame)); else { pendingProfile = frame; connect(); }
      setProfile(frame); profileForm.hidden = true; input.focus();
    });
    window.addEventListener('online', function () { if (!ws && !stopped) { attempt = 0; connect(); } });
    // Leaving the page (or entering the back-forward cache) hangs up, so the gateway knows the
    // visitor is away; coming back from the cache reconnects and gets what was missed.
    window.addEventListener('pagehide', function () {
      if (!ws) return;
      var s = ws; ws = null; ready = false; clearInterval(heartbeat); clearTimeout(upTimer);
      s.onclose = null;
      try { s.close(1000, 'page hidden'); } catch (e) { /* already closing */ }
    });
    window.addEventListener('pageshow', function (e) { if (e.persisted && saved.token && !stopped) { attempt = 0; connect(); } });
    document.addEventListener('visibilitychange', function () {
      if (document.hidden) return;
      if (!ws && !stopped && saved.token) { attempt = 0; connect(); }
      if (isOpen) markRead();
    });
    // A returning visitor reconnects at once, so what was sent while away shows as unread.
    if (saved.token) connect();
    else if (!saved.opened) setTimeout(function () { if (!isOpen && !saved.opened) teaser.hidden = false; }, 1500);
  }
  if (document.body) mount(); else document.addEventListener('DOMContentLoaded', mount);
})();
