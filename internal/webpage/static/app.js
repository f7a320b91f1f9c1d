// hubbub's web page: one WebSocket to /ws (docs/protocol.md). Everything the server sends is
// inserted with textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const log = $("log"), statusEl = $("status");
let ws = null;
let myName = "";          // the name we registered, sent again after a reconnect
let registered = false;
let current = "#lobby";   // where plain lines go
let backoff = 500;        // ms before the next reconnect, doubling to 15 s
const logs = new Map();   // room -> list of <li> kept while another room is shown
let earlier = null;       // lines of a /history answer, put above the others when it ends

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

// roomLog returns the list of lines kept for room.
function roomLog(room) {
  if (!logs.has(room)) logs.set(room, []);
  return logs.get(room);
}

function add(room, li) {
  if (earlier && li.classList.contains("history")) {
    earlier.push(li);
    return;
  }
  roomLog(room).push(li);
  if (room === current) {
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.append(li);
    if (atBottom) li.scrollIntoView({ block: "end" });
  }
}

function show(room) {
  current = room;
  $("room-title").textContent = room;
  log.replaceChildren(...roomLog(room));
  log.scrollTop = log.scrollHeight;
  for (const li of $("rooms").children) li.classList.toggle("current", li.dataset.room === room);
}

function send(text) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "line", text }));
}

function refreshLists() {
  send("/rooms");
  send("/who");
}

function onEvent(ev) {
  switch (ev.kind) {
  case "prompt":
    registered = false;
    if (myName) send(myName); // reconnected: take our name again
    else $("name-dialog").showModal();
    return;
  case "name_taken":
    myName = "";
    $("name-error").textContent = "That name is taken, please choose another.";
    return;
  case "welcome":
    registered = true;
    myName = ev.from;
    $("name-dialog").close();
    setStatus("connected as " + ev.from, "online");
    backoff = 500;
    return;
  case "current":
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
    return;
  case "message":
    add(ev.room, item("message", [["<" + ev.from + "> ", "from"], [ev.text]], ev));
    return;
  case "action":
    add(ev.room, item("action", [["* " + ev.from + " ", "from"], [ev.text]], ev));
    return;
  case "private":
    add(current, item("private", [[ev.sent ? "to " + ev.to + ": " : "from " + ev.from + ": ", "from"], [ev.text]], ev));
    return;
  case "join":
  case "leave":
    add(ev.room, item(ev.kind, [[ev.from + (ev.kind === "join" ? " joined " : " left ") + ev.room + (ev.text ? " (" + ev.text + ")" : "")]], ev));
    if (ev.room === current) send("/who");
    return;
  case "nick":
    add(current, item("nick", [[ev.from + " is now known as " + ev.text]], ev));
    send("/who");
    return;
  case "topic":
    add(ev.room, item("topic", [[ev.from + " set the topic: " + ev.text]], ev));
    return;
  default: // notice
    if (!registered && !$("name-dialog").open) $("name-dialog").showModal();
    if (!registered) {
      $("name-error").textContent = ev.text;
      return;
    }
    if (earlier && (ev.text.startsWith("end of history:") || ev.text === "no earlier history")) {
      const lines = earlier;
      earlier = null;
      if (lines.length === 0) lines.push(item("notice", [["*** no earlier lines"]]));
      roomLog(current).unshift(...lines);
      if (current) log.prepend(...lines);
      return;
    }
    if (ev.text === "end of history") {
      add(current, item("separator", [["history above"]]));
      return;
    }
    add(current, item("notice", [["*** " + ev.text]], ev));
  }
}

function connect() {
  setStatus("connecting…", "connecting");
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
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
    registered = false;
    const wait = backoff;
    backoff = Math.min(backoff * 2, 15000);
    const why = e.reason ? " (" + e.reason + ")" : "";
    setStatus("disconnected" + why + ", retrying in " + Math.round(wait / 1000) + " s", "offline");
    if (e.code === 1000 && e.reason === "quit") {
      setStatus("you left" + why + "; reload to come back", "offline");
      return;
    }
    setTimeout(connect, wait);
  };
}

$("name-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const name = $("name").value.trim();
  if (!name) return;
  myName = name;
  $("name-error").textContent = "";
  send(name);
});
$("say-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("say").value;
  if (!text.trim()) return;
  send(text);
  if (!text.startsWith("/") || text.startsWith("//")) {
    // The server does not echo a user's own lines: show ours at once.
    add(current, item("message mine", [["<" + myName + "> ", "from"], [text.startsWith("//") ? text.slice(1) : text]]));
  }
  $("say").value = "";
});
$("join-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const room = $("join-input").value.trim();
  if (room) send("/join " + room);
  $("join-input").value = "";
});
$("earlier").addEventListener("click", () => {
  earlier = [];
  send("/history");
});
connect();
