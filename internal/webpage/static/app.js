// hubbub's web page: one WebSocket to /ws (docs/protocol.md). Everything the server sends is
// inserted with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const log = $("log"), statusEl = $("status"), newLines = $("new-lines"), earlierBtn = $("earlier");
let ws = null;
let myName = "";          // the name we registered, sent again after a reconnect
let registered = false;
let current = "#lobby";   // where plain lines go
let backoff = 500;        // ms before the next reconnect, doubling to 15 s
const logs = new Map();   // room -> {items: <li>s kept while another room is shown, mine: our own lines not confirmed}
const seenIDs = new Set(); // ids of the lines shown: a replay after a reconnect repeats them
let earlier = null;       // lines of a /history answer, put above the others when it ends
let secret = false;        // the server asked for a password: the next line is one
let rejoinAs = "";         // the name to take again on reconnecting
let rejoinRoom = "";       // the room to go back to on reconnecting
let replayed = 0;         // lines of a replay shown since the last "end of history"
let stick = true;         // the view follows new lines; false once the user scrolls up
let lastTop = 0;          // where the view was when last seen, to tell when the user scrolls up
let entering = [];        // notices since the dialog's last line: shown in the log if it closes
let loggedIn = false;     // the browser's cookie logs in to an account (the server says so)
let features = { accounts: true, accounts_required: false }; // until /features.json says

function setStatus(text, cls) {
  statusEl.textContent = text;
  statusEl.className = "status " + cls;
}

function item(cls, parts, ev) {
  const li = document.createElement("li");
  li.className = cls + (ev && ev.history ? " history" : "");
  if (ev && ev.time) {
    const t = document.createElement("span");
    t.className = "time";
    t.textContent = new Date(ev.time).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    t.title = ev.time;
    li.append(t);
  }
  for (const [text, partCls] of parts) {
    const span = document.createElement("span");
    if (partCls) span.className = partCls;
    span.textContent = text;
    li.append(span);
  }
  return li;
}

// roomLog returns what is kept for room.
function roomLog(room) {
  if (!logs.has(room)) logs.set(room, { items: [], mine: [] });
  return logs.get(room);
}

// known reports whether the line of ev was shown already (a replay after a reconnect, an
// earlier page of history), and remembers it. Our own lines were shown when we sent them,
// without an id: the first replayed copy of one is that line.
function known(room, ev) {
  if (!ev.id) return false;
  if (seenIDs.has(ev.id)) return true;
  seenIDs.add(ev.id);
  if (ev.history && (ev.kind === "message" || ev.kind === "action") && ev.from === myName) {
    const mine = roomLog(room).mine;
    const i = mine.indexOf(ev.kind + " " + ev.text);
    if (i >= 0) {
      mine.splice(i, 1);
      return true;
    }
  }
  return false;
}

function add(room, li, ev) {
  if (ev && known(room, ev)) return;
  if (earlier && li.classList.contains("history")) {
    earlier.push(li);
    return;
  }
  if (li.classList.contains("history")) replayed++;
  roomLog(room).items.push(li);
  if (room === current) {
    log.append(li);
    follow();
  }
}

// follow keeps the newest line in view, unless the user scrolled up to read: then a marker
// says there are new lines below.
function follow() {
  if (stick) toEnd();
  else newLines.hidden = false;
}

function toEnd() {
  stick = true;
  newLines.hidden = true;
  log.scrollTop = log.scrollHeight;
  lastTop = log.scrollTop;
}

function show(room) {
  current = room;
  $("room-title").textContent = room;
  log.replaceChildren(...roomLog(room).items);
  toEnd();
  for (const li of $("rooms").children) li.classList.toggle("current", li.dataset.room === room);
}

function send(text) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "line", text }));
}

function refreshLists() {
  send("/rooms");
  send("/who");
}

// hide makes input a password field, empty. The question itself goes where it can wrap (the
// dialog's label, the log): a placeholder holds one line, and a long one widens the dialog.
// An empty answer may be sent: the server takes it as "ask again", and a second as "give up",
// the only way out of a question the user cannot answer.
function hide(input) {
  input.type = "password";
  input.value = "";
  input.autocomplete = "current-password";
  input.maxLength = 256;
  input.placeholder = "password";
  input.required = false;
  input.focus();
}

function unhide(input, autocomplete, maxLength, placeholder, required) {
  input.type = "text";
  input.autocomplete = autocomplete;
  input.maxLength = maxLength;
  input.placeholder = placeholder;
  input.required = required;
}

// Escape must not close the dialog on a password question: the question would go on unseen,
// and what is typed next in the message field would be taken as the password.
$("name-dialog").addEventListener("cancel", (e) => {
  if (secret && !registered) e.preventDefault();
});

function notice(text) {
  return item("notice", [["***", "mark"], [" " + text]]);
}

function onEvent(ev) {
  switch (ev.kind) {
  case "prompt":
    registered = false;
    if (rejoinAs) {
      // Reconnected: take our name again, once. Refused, the user chooses another.
      send(rejoinAs);
      rejoinAs = "";
    } else if (!$("name-dialog").open) $("name-dialog").showModal();
    return;
  case "secret_prompt":
    // A password is asked for: what is typed next is hidden, never shown as a line of ours.
    secret = true;
    if (!registered) {
      if (!$("name-dialog").open) $("name-dialog").showModal();
      hide($("name"));
      $("name-label").textContent = ev.text;
      $("name-submit").textContent = "Send password";
      $("name-note").hidden = true; // about choosing a name, not this question
    } else {
      add(current, notice(ev.text));
      hide($("say"));
    }
    return;
  case "secret_done":
    secret = false;
    unhide($("name"), "nickname", 32, "", true);
    $("name-label").textContent = "What's your name?";
    $("name-submit").textContent = "Join";
    $("name-note").hidden = !features.accounts_required;
    unhide($("say"), "off", 4096, "say something, or /help", false);
    return;
  case "logged_in":
    // The browser's session cookie logged us in: offer to log out instead of logging in.
    setLoggedIn(true);
    return;
  case "logged_out":
    // The cookie logs in no more (logged out elsewhere, a new password, expired): a guest now,
    // and what the account was shown is not the guest's to read.
    setLoggedIn(false);
    forget();
    rejoinAs = "";
    setStatus("connected: choose a name", "online"); // not "joining as" the account any more
    $("login-error").textContent = ev.text;
    return;
  case "name_taken":
    myName = "";
    $("name-error").textContent = "That name is taken, please choose another.";
    return;
  case "welcome":
    registered = true;
    myName = ev.from;
    if (rejoinRoom && rejoinRoom !== "#lobby") send("/join " + rejoinRoom); // where we were
    rejoinRoom = "";
    $("name-dialog").close();
    $("name-error").textContent = "";
    // What the server said to the dialog's last line (the account made at the prompt) would
    // go away with the dialog, unread: it goes to the log.
    for (const text of entering) add(current, notice(text));
    entering = [];
    setStatus("connected as " + ev.from, "online");
    earlierBtn.hidden = false;
    backoff = 500;
    return;
  case "current":
    replayed = 0;
    show(ev.room);
    refreshLists();
    return;
  case "rooms": {
    const items = ev.rooms.map((r) => {
      const li = document.createElement("li");
      li.dataset.room = r.name;
      li.textContent = r.name + " (" + r.members + ")";
      if (r.topic) li.title = r.topic;
      li.classList.toggle("current", r.name === current);
      li.addEventListener("click", () => send("/join " + r.name));
      return li;
    });
    $("rooms").replaceChildren(...items);
    return;
  }
  case "members":
    if (ev.room !== current) return;
    $("members").replaceChildren(...ev.members.map((m) => {
      const li = document.createElement("li");
      let tags = [];
      if (m.owner) tags.push("owner");
      if (m.operator) tags.push("operator");
      if (m.away) tags.push("away");
      li.textContent = m.name + (tags.length ? " (" + tags.join(", ") + ")" : "");
      if (m.away) li.title = m.away;
      return li;
    }));
    // A large room lists its moderators and some members, and says how many there are.
    if (ev.total > ev.members.length) {
      const li = document.createElement("li");
      li.className = "more";
      li.textContent = "and " + (ev.total - ev.members.length) + " more";
      $("members").append(li);
    }
    return;
  case "message":
    // sent: the account's own line, said from another of its devices.
    add(ev.room, item(ev.sent ? "message mine" : "message", [["<" + ev.from + "> ", "from"], [ev.text]], ev), ev);
    return;
  case "action":
    // "* NAME text", in the speaker's style: never the "***" and the look of a notice.
    add(ev.room, item(ev.sent ? "action mine" : "action", [["* ", "mark"], [ev.from, "from"], [" " + ev.text]], ev), ev);
    return;
  case "private":
    add(current, item("private", [[ev.sent ? "to " + ev.to + ": " : "from " + ev.from + ": ", "from"], [ev.text]], ev), ev);
    return;
  case "join":
  case "leave":
    add(ev.room, item(ev.kind, [[ev.from + (ev.kind === "join" ? " joined " : " left ") + ev.room + (ev.text ? " (" + ev.text + ")" : "")]], ev), ev);
    if (ev.room === current) send("/who");
    return;
  case "nick":
    add(current, item("nick", [[ev.from + " is now known as " + ev.text]], ev), ev);
    send("/who");
    return;
  case "owner":
    // The new owner is told in words too: the others see who may moderate now.
    if (ev.from !== myName) add(ev.room, item("topic", [[ev.from + " owns " + ev.room + " now"]], ev), ev);
    if (ev.room === current) send("/who");
    return;
  case "topic":
    add(ev.room, item("topic", [[ev.text ? ev.from + " set the topic: " + ev.text : ev.from + " cleared the topic"]], ev), ev);
    return;
  default: // notice
    if (!registered && !$("name-dialog").open) $("name-dialog").showModal();
    if (!registered) {
      $("name-error").textContent = ev.text;
      entering.push(ev.text);
      return;
    }
    if (earlier && (ev.text.startsWith("end of history:") || ev.text === "no earlier history")) {
      const lines = earlier;
      earlier = null;
      if (lines.length === 0) lines.push(notice("no earlier lines"));
      roomLog(current).items.unshift(...lines);
      if (current) {
        // Show the first of the earlier lines: that is what the user asked to read. New
        // lines then wait below, with the marker, until the user goes back down.
        log.prepend(...lines);
        log.scrollTop = 0;
        lastTop = 0;
        stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
      }
      return;
    }
    if (ev.text === "end of history") {
      // After a reconnect the replay is lines already shown: no second separator.
      if (replayed > 0) add(current, item("separator", [["history above"]]));
      replayed = 0;
      return;
    }
    add(current, notice(ev.text));
  }
}

// setLoggedIn shows "log out" or the login form. Whether the browser is logged in is the
// server's to say (logged_in, logged_out): the cookie is HttpOnly, the page never sees it.
function setLoggedIn(on) {
  loggedIn = on;
  $("logout").hidden = !on;
  // Where there are no accounts there is nothing to log in to.
  $("login-form").hidden = on || !features.accounts;
  $("name-note").hidden = !features.accounts_required;
}

// loadFeatures asks the server what it offers (accounts or not), for what the page offers.
// Unanswered (an older server, a network error), the page offers what most servers do.
async function loadFeatures() {
  try {
    const resp = await fetch("/features.json", { cache: "no-store" });
    if (!resp.ok) return;
    const f = await resp.json();
    features = { accounts: f.accounts === true, accounts_required: f.accounts_required === true };
    document.documentElement.dataset.accounts = features.accounts_required ? "required" : features.accounts ? "on" : "off";
  } catch {
    return;
  } finally {
    setLoggedIn(loggedIn);
  }
}

// forget drops everything the page was shown, before another person uses it: every room's
// lines (private messages too), who was where, and which room was open.
function forget() {
  logs.clear();
  seenIDs.clear();
  earlier = null;
  entering = [];
  replayed = 0;
  rejoinRoom = "";
  myName = "";
  log.replaceChildren();
  $("members").replaceChildren();
  $("rooms").replaceChildren();
  $("say").value = "";
  show("#lobby");
}

// reconnectNow leaves the chat and comes back at once, as a new connection: after logging in
// or out, the cookie decides who we are.
function reconnectNow() {
  if (ws) {
    ws.onclose = null;
    ws.close(1000, "reconnecting");
  }
  registered = false;
  secret = false;
  myName = "";
  rejoinRoom = "";
  earlier = null;
  earlierBtn.hidden = true;
  $("members").replaceChildren(); // who was here with the old connection; asked again on entering
  backoff = 500;
  connect();
}

function connect() {
  loadFeatures();
  $("reconnect").hidden = true;
  setStatus("connecting…", "connecting");
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  rejoinAs = myName;
  ws = new WebSocket(url);
  ws.onopen = () => setStatus(myName ? "connected, joining as " + myName + "…" : "connected: choose a name", "online");
  ws.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch { return; }
    // A busy server sends the events that queued up in one message, as an array.
    if (Array.isArray(ev)) ev.forEach(onEvent);
    else onEvent(ev);
  };
  ws.onclose = (e) => {
    if (registered) rejoinRoom = current;
    registered = false;
    earlierBtn.hidden = true;
    earlier = null;
    const why = e.reason ? " (" + e.reason + ")" : "";
    if (e.code === 1000 && e.reason === "quit") {
      setStatus("you left; reload to come back", "offline");
      return;
    }
    if (e.code === 1008) {
      // Kicked, banned, or too long without a name: coming straight back is what the server
      // said not to do. Say why and let the user decide.
      setStatus("disconnected: " + (e.reason || "closed by the server"), "offline");
      $("reconnect").hidden = false;
      return;
    }
    const wait = backoff;
    backoff = Math.min(backoff * 2, 15000);
    setStatus("disconnected" + why + ", retrying in " + Math.round(wait / 1000) + " s", "offline");
    setTimeout(connect, wait);
  };
}

log.addEventListener("scroll", () => {
  if (log.scrollTop + log.clientHeight >= log.scrollHeight - 8) {
    stick = true;
    newLines.hidden = true;
  } else if (log.scrollTop < lastTop - 2) {
    // Only the user moves the view up. The view can also stop being at the end without
    // anyone scrolling (the log got shorter as a button appeared, a line grew): that scroll
    // event comes before the resize is seen, and must not unstick the view.
    stick = false;
  }
  lastTop = log.scrollTop;
});
// A phone's keyboard, a rotated screen or a resized window changes the view's height: keep
// the newest line in it.
new ResizeObserver(() => { if (stick) toEnd(); }).observe(log);
newLines.addEventListener("click", toEnd);
$("reconnect").addEventListener("click", () => {
  backoff = 500;
  connect();
});

$("name-form").addEventListener("submit", (e) => {
  e.preventDefault();
  entering = [];
  if (secret) {
    send($("name").value); // as typed: spaces are part of a password, and empty is an answer
    $("name").value = "";
    $("name-error").textContent = "";
    return;
  }
  const name = $("name").value.trim();
  if (!name) return;
  $("name-error").textContent = "";
  send(name);
});
$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = $("login-name").value.trim(), password = $("login-password").value;
  $("login-password").value = ""; // not kept on the page, whatever the answer
  if (!name || !password) return;
  $("login-error").textContent = "";
  let resp;
  try {
    resp = await fetch("/login", { method: "POST", body: new URLSearchParams({ name, password }), credentials: "same-origin" });
  } catch {
    $("login-error").textContent = "the server cannot be reached, please try again";
    return;
  }
  if (resp.status === 204) {
    reconnectNow();
    return;
  }
  let why = "logging in failed, please try again";
  if (resp.status === 404) why = "this server keeps no accounts";
  try { why = (await resp.json()).error || why; } catch { /* not JSON: keep the default */ }
  $("login-error").textContent = why;
});
$("logout").addEventListener("click", async () => {
  try {
    const resp = await fetch("/logout", { method: "POST", credentials: "same-origin" });
    if (resp.status !== 204) throw new Error(String(resp.status));
  } catch {
    setStatus("logging out failed, please try again", "offline");
    return;
  }
  setLoggedIn(false);
  forget();
  reconnectNow();
});
$("say-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("say").value;
  if (secret) {
    send(text); // a password: sent as typed, shown nowhere
    $("say").value = "";
    return;
  }
  if (!text.trim()) return;
  send(text);
  // The server does not echo a user's own lines and actions: show ours at once (and match
  // each with its copy in a later replay, see known).
  const mine = roomLog(current).mine;
  const action = text.match(/^\/me (.*\S.*)$/i);
  if (!text.startsWith("/") || text.startsWith("//")) {
    const said = text.startsWith("//") ? text.slice(1) : text;
    mine.push("message " + said);
    add(current, item("message mine", [["<" + myName + "> ", "from"], [said]]));
  } else if (action) {
    mine.push("action " + action[1].trim());
    add(current, item("action mine", [["* ", "mark"], [myName, "from"], [" " + action[1].trim()]]));
  }
  if (mine.length > 50) mine.shift(); // a replay holds the last few lines only
  toEnd(); // what the user just typed is what they want to see
  $("say").value = "";
});
$("join-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const room = $("join-input").value.trim();
  if (room) send("/join " + room);
  $("join-input").value = "";
});
earlierBtn.addEventListener("click", () => {
  earlier = [];
  send("/history");
});
connect();
