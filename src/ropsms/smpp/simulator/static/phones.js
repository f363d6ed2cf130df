// Virtual phones: list numbers, show the selected conversation, poll for new messages, send MOs.
// No framework and no external assets; all text goes in with textContent (never innerHTML).
"use strict";
(function () {
  const list = document.getElementById("number-list");
  const empty = document.getElementById("no-numbers");
  const messages = document.getElementById("messages");
  const title = document.getElementById("chat-title");
  const linkState = document.getElementById("link-state");
  const form = document.getElementById("mo-form");
  const result = document.getElementById("mo-result");
  let current = new URLSearchParams(location.hash.slice(1)).get("n") || null;
  let lastId = 0;

  async function getJson(url) {
    const r = await fetch(url, { headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error((await r.json()).error || r.statusText);
    return r.json();
  }

  function time(ts) {
    return new Date(ts * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function select(number) {
    current = number;
    lastId = 0;
    messages.replaceChildren();
    title.textContent = "Conversation with " + number;
    title.setAttribute("dir", "ltr");
    document.getElementById("mo-from").value = number;
    history.replaceState(null, "", "#n=" + encodeURIComponent(number));
    for (const b of list.querySelectorAll("button")) {
      b.setAttribute("aria-current", b.dataset.number === number ? "true" : "false");
    }
    refreshConversation();
  }

  function renderNumbers(phones) {
    empty.hidden = phones.length > 0;
    list.replaceChildren(...phones.map((p) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.number = p.msisdn;
      b.setAttribute("aria-current", p.msisdn === current ? "true" : "false");
      const n = document.createElement("span");
      n.className = "num";
      n.textContent = p.msisdn + " (" + p.count + ")";
      const last = document.createElement("span");
      last.className = "last";
      last.dir = "auto";
      last.textContent = (p.last_direction === "mo" ? "↑ " : "↓ ") + p.last_text;
      b.append(n, last);
      b.addEventListener("click", () => select(p.msisdn));
      li.append(b);
      return li;
    }));
  }

  function renderMessage(m) {
    const li = document.createElement("li");
    li.className = "msg " + m.direction;
    li.dataset.id = m.id;
    const text = document.createElement("bdi");
    text.dir = "auto";
    text.className = "text";
    text.textContent = m.text;
    const meta = document.createElement("span");
    meta.className = "meta";
    const who = m.direction === "mt" ? "from " + m.peer : "to " + m.peer;
    meta.append(time(m.at) + " · " + who + " · " + m.encoding + (m.parts > 1 ? " · " + m.parts + " parts" : "") + " · ");
    const state = document.createElement("span");
    state.className = "state state-" + m.state;
    state.textContent = m.state;
    meta.append(state);
    li.append(text, meta);
    return li;
  }

  async function refreshConversation() {
    if (!current) return;
    const number = current;
    const data = await getJson("/api/phones/" + encodeURIComponent(number) + "?since=0");
    if (number !== current) return;
    // States change after a receipt, so re-render every entry; append only new ones for screen readers.
    const existing = new Map([...messages.children].map((li) => [li.dataset.id, li]));
    for (const m of data.messages) {
      const li = renderMessage(m);
      const old = existing.get(String(m.id));
      if (old) {
        old.replaceWith(li);
      } else {
        messages.append(li);
        lastId = Math.max(lastId, m.id);
        messages.scrollTop = messages.scrollHeight;
      }
    }
  }

  async function tick() {
    try {
      const data = await getJson("/api/phones");
      renderNumbers(data.phones);
      if (!current && data.phones.length) select(data.phones[0].msisdn);
      else await refreshConversation();
      const stats = await getJson("/api/sessions");
      linkState.textContent = stats.sessions.length ? stats.sessions.length + " gateway bind(s) connected"
                                                    : "no gateway bound";
    } catch (e) {
      linkState.textContent = "simulator unreachable";
    }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { from: form.from.value, to: form.to.value, text: form.text.value };
    result.className = "result";
    result.textContent = "Sending…";
    try {
      const r = await fetch("/api/mo", { method: "POST", headers: { "Content-Type": "application/json" },
                                         body: JSON.stringify(body) });
      const data = await r.json();
      if (!r.ok) throw new Error(data.error);
      result.textContent = "Sent as " + data.msisdn + " (" + data.entry.parts + " part(s)).";
      form.text.value = "";
      select(data.msisdn);
      await tick();
    } catch (e) {
      result.className = "result error";
      result.textContent = "Not sent: " + e.message;
    }
  });

  if (current) select(current);
  tick();
  setInterval(tick, 1500);
})();
