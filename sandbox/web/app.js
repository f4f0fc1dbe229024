// The sandbox page: act as several virtual users of the Bot API sandbox side by side.
// Everything goes through the control API under /sandbox/ (docs/sandbox.md). One long poll
// on /sandbox/chats notices any change; each open chat then fetches what changed since the
// version it has (so a dozen open chats still hold a single waiting connection, and the
// browser's six connections per host stay free for actions).
"use strict";

(() => {
  const STORE_KEY = "dating-sandbox-page";
  const POLL_SECONDS = 25;
  const RETRY_MS = 1500;
  const PRESETS = [
    ["Moscow", 55.7558, 37.6173], ["Saint Petersburg", 59.9343, 30.3351],
    ["Kazan", 55.7963, 49.1088], ["London", 51.5072, -0.1276],
    ["Berlin", 52.52, 13.405], ["Belgrade", 44.7866, 20.4489],
  ];
  const AVATAR_COLOURS = ["#e17076", "#7bc862", "#e5ca77", "#65aadd", "#a695e7", "#ee7aae",
    "#6ec9cb", "#faa774"];

  const $ = (selector, root = document) => root.querySelector(selector);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function api(method, path, body) {
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    let data;
    try {
      data = await response.json();
    } catch (error) {
      throw new Error(`${response.status} ${response.statusText}`);
    }
    if (!response.ok || data.ok === false) {
      const failure = new Error(data.error || data.description || `HTTP ${response.status}`);
      failure.status = response.status;
      throw failure;
    }
    return data;
  }

  // -- what this browser remembers ----------------------------------------------------------

  function loadSaved() {
    try {
      return JSON.parse(localStorage.getItem(STORE_KEY)) || {};
    } catch (error) {
      return {};
    }
  }

  const saved = loadSaved();
  const mine = new Set(saved.mine || []);       // users created on this page
  const chats = new Map();                      // user id -> Chat (open columns)
  const users = new Map();                      // user id -> sandbox user
  const chatInfo = new Map();                   // user id -> {version, messages, ...}
  const seenVersions = new Map();               // user id -> version last shown
  let bot = null;

  function save() {
    localStorage.setItem(STORE_KEY, JSON.stringify({ mine: [...mine], open: [...chats.keys()] }));
  }

  // -- small pieces of UI ---------------------------------------------------------------------

  function toast(text, kind) {
    const node = el("div", `toast${kind ? ` ${kind}` : ""}`, text);
    $("#toasts").append(node);
    setTimeout(() => node.remove(), 4000);
  }

  function alertBox(text) {
    $("#alert-text").textContent = text;
    $("#alert").hidden = false;
    $("#alert-ok").focus();
  }

  function avatar(node, user) {
    const name = user ? displayName(user) : "?";
    node.textContent = name.trim().slice(0, 1).toUpperCase() || "?";
    node.style.background = AVATAR_COLOURS[(user ? user.id : 0) % AVATAR_COLOURS.length];
  }

  function displayName(user) {
    return [user.first_name, user.last_name].filter(Boolean).join(" ");
  }

  function clock(seconds) {
    const date = new Date(seconds * 1000);
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  // Text with Telegram entities (offsets and lengths in UTF-16 code units, as JS strings).
  function richText(text, entities, chat) {
    const fragment = document.createDocumentFragment();
    let position = 0;
    const ordered = [...(entities || [])].sort((a, b) => a.offset - b.offset);
    for (const entity of ordered) {
      if (entity.offset < position) continue; // nested entities: the outer one wins
      fragment.append(text.slice(position, entity.offset));
      const part = text.slice(entity.offset, entity.offset + entity.length);
      fragment.append(entityNode(entity, part, chat));
      position = entity.offset + entity.length;
    }
    fragment.append(text.slice(position));
    return fragment;
  }

  function entityNode(entity, part, chat) {
    const tags = { bold: "b", italic: "i", underline: "u", strikethrough: "s", code: "code",
      pre: "pre", blockquote: "blockquote", expandable_blockquote: "blockquote" };
    if (tags[entity.type]) return el(tags[entity.type], null, part);
    if (entity.type === "spoiler") return el("span", "spoiler", part);
    if (entity.type === "url" || entity.type === "text_link") {
      const link = el("a", null, part);
      link.href = entity.url || part;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      return link;
    }
    if (entity.type === "bot_command" && chat) {
      const command = el("span", "command", part);
      command.title = "Send this command";
      command.addEventListener("click", () => chat.sendText(part));
      return command;
    }
    return document.createTextNode(part);
  }

  // The photo size to show: the smallest at least 640 px wide, else the largest.
  function photoFileId(message) {
    const sizes = (message.message && message.message.photo) || [];
    const fit = sizes.find((size) => size.width >= 640) || sizes[sizes.length - 1];
    return fit ? fit.file_id : message.photo[message.photo.length - 1];
  }

  function photoNode(message, chat) {
    const image = el("img", "photo");
    image.alt = "photo";
    image.src = `/sandbox/files/${encodeURIComponent(photoFileId(message))}`;
    image.addEventListener("load", () => chat.keepAtBottom());
    return image;
  }

  // A video, video note or voice message: the player for the sandbox's file, not fetched
  // until played (placeholder bytes in tests are no real media), with its length shown.
  function mediaNode(message, chat) {
    const data = message.message || {};
    const media = data[message.kind] || {};
    const seconds = Number(media.duration || 0);
    const length = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    const src = `/sandbox/files/${encodeURIComponent(media.file_id || message.file_id || "")}`;
    const box = el("div", `media-box ${message.kind.replace("_", "-")}`);
    const player = el(message.kind === "voice" ? "audio" : "video", "player");
    player.preload = "none";
    player.controls = true;
    player.src = src;
    const label = { video: "🎬", video_note: "⏺", voice: "🎤" }[message.kind];
    box.append(player, el("span", "media-length", `${label} ${length}`));
    box.addEventListener("load", () => chat.keepAtBottom());
    return box;
  }

  // -- one open chat --------------------------------------------------------------------------

  class Chat {
    constructor(user) {
      this.user = user;
      this.id = user.id;
      this.version = -1;
      this.messages = new Map();     // message_id -> message view
      this.units = new Map();        // unit key -> element (a message, or a whole album)
      this.answered = new Set();     // callback answers already shown
      this.keyboardJson = "null";
      this.loading = null;
      this.again = false;
      this.stick = true;
      this.root = $("#chat-template").content.firstElementChild.cloneNode(true);
      this.root.dataset.userId = String(user.id);
      this.list = $(".messages", this.root);
      // Follow new messages while the view is at the bottom; stop when the person scrolls up.
      // (Content that grows, such as a photo that loads, moves no scrollTop: that is not the
      // person leaving the bottom.)
      this.lastTop = 0;
      this.list.addEventListener("scroll", () => {
        const list = this.list;
        if (list.scrollTop + list.clientHeight >= list.scrollHeight - 40) {
          this.stick = true;
        } else if (list.scrollTop < this.lastTop) {
          this.stick = false;
        }
        this.lastTop = list.scrollTop;
      });
      this.renderHead();
      $(".close", this.root).addEventListener("click", () => closeChat(this.id));
      $(".start", this.root).addEventListener("click", () => this.sendText("/start"));
      const composer = $(".composer", this.root);
      composer.addEventListener("submit", (event) => {
        event.preventDefault();
        const input = $(".compose-text", this.root);
        const text = input.value;
        if (!text.trim()) return;
        input.value = "";
        this.sendText(text);
      });
      const fileInput = $(".photo-input", this.root);
      fileInput.addEventListener("change", async () => {
        const files = [...fileInput.files];
        fileInput.value = "";
        for (const file of files) await this.sendPhoto(file);
      });
      $(".location-btn", this.root).addEventListener("click", () => chooseLocation(this, null));
      // Placeholder media of a given length: enough for the bot, which checks the kind and the
      // length and passes file_ids on (a profile video is stored as it is).
      for (const button of this.root.querySelectorAll(".media-btn")) {
        button.addEventListener("click", () =>
          this.act(button.dataset.kind, { duration: Number(button.dataset.duration) }));
      }
    }

    renderHead() {
      const user = this.user;
      avatar($(".avatar", this.root), user);
      $(".chat-name", this.root).textContent = displayName(user);
      const bits = [user.username ? `@${user.username}` : null, `id ${user.id}`,
        user.language_code || "no language"];
      $(".chat-sub", this.root).textContent = bits.filter(Boolean).join(" · ");
    }

    // Fetch what changed; calls while a fetch runs make it run once more afterwards.
    refresh() {
      if (this.loading) {
        this.again = true;
        return this.loading;
      }
      this.loading = (async () => {
        do {
          this.again = false;
          try {
            const data = await api("GET",
              `/sandbox/users/${this.id}/chat?changed_since=${this.version}`);
            this.apply(data);
          } catch (error) {
            if (error.status === 404) {
              closeChat(this.id);
              return;
            }
            toast(`Could not read the chat: ${error.message}`, "error");
          }
        } while (this.again && chats.get(this.id) === this);
      })().finally(() => {
        this.loading = null;
      });
      return this.loading;
    }

    apply(data) {
      const first = this.version < 0;
      this.version = data.version;
      seenVersions.set(this.id, data.version);
      const dirty = new Set();
      for (const message of data.messages) {
        const previous = this.messages.get(message.message_id);
        if (previous) dirty.add(unitKey(previous));
        if (message.deleted) {
          this.messages.delete(message.message_id);
        } else {
          this.messages.set(message.message_id, message);
        }
        dirty.add(unitKey(message));
      }
      for (const key of dirty) this.renderUnit(key);
      this.renderKeyboard(data.reply_keyboard);
      $(".start-bar", this.root).hidden = this.messages.size > 0;
      for (const answer of data.callback_answers) {
        if (!answer.answered || this.answered.has(answer.callback_query_id)) continue;
        this.answered.add(answer.callback_query_id);
        if (first || !answer.text) continue;
        if (answer.show_alert) alertBox(answer.text); else toast(answer.text);
      }
      this.keepAtBottom();
    }

    keepAtBottom() {
      if (this.stick) this.list.scrollTop = this.list.scrollHeight;
    }

    renderUnit(key) {
      const members = [...this.messages.values()].filter((m) => unitKey(m) === key)
        .sort((a, b) => a.message_id - b.message_id);
      const old = this.units.get(key);
      if (!members.length) {
        if (old) old.remove();
        this.units.delete(key);
        return;
      }
      const node = members.length > 1 || members[0].media_group_id
        ? this.albumNode(members) : this.messageNode(members[0]);
      node.dataset.order = String(members[0].message_id);
      if (old) {
        old.replaceWith(node);
      } else {
        const after = [...this.list.children].find(
          (child) => Number(child.dataset.order) > members[0].message_id);
        this.list.insertBefore(node, after || null);
      }
      this.units.set(key, node);
    }

    wrapper(message) {
      const wrap = el("div", `msg ${message.outgoing ? "bot" : "me"}`);
      wrap.dataset.messageId = String(message.message_id);
      wrap.dataset.kind = message.kind;
      return wrap;
    }

    meta(messages) {
      const last = messages[messages.length - 1];
      const meta = el("span", "meta");
      if (messages.some((m) => m.edited)) meta.append(el("span", "edited-mark", "edited"));
      meta.append(clock(last.edited_at || last.sent_at));
      return meta;
    }

    messageNode(message) {
      const wrap = this.wrapper(message);
      const bubble = el("div", "bubble");
      const data = message.message || {};
      const caption = () => {
        if (!message.caption) return;
        const part = el("div", "caption");
        part.append(richText(message.caption, message.entities, this));
        part.append(this.meta([message]));
        bubble.append(part);
      };
      if (message.kind === "text") {
        bubble.append(richText(message.text || "", message.entities, this));
        bubble.append(this.meta([message]));
      } else if (message.kind === "photo") {
        bubble.classList.add("media");
        bubble.append(photoNode(message, this));
        caption();
        if (!message.caption) bubble.append(this.meta([message]));
      } else if (["video", "video_note", "voice"].includes(message.kind)) {
        bubble.classList.add("media");
        bubble.append(mediaNode(message, this));
        caption();
        if (!message.caption) bubble.append(this.meta([message]));
      } else if (message.kind === "location") {
        const where = data.location || {};
        const card = el("div", "location-card");
        card.append(el("span", "pin", "📍"),
          el("span", null, `${Number(where.latitude).toFixed(4)}, ${Number(where.longitude).toFixed(4)}`));
        bubble.append(card, this.meta([message]));
      } else {
        const labels = {
          sticker: () => `${(data.sticker || {}).emoji || "🙂"} sticker`,
          document: () => `📄 ${(data.document || {}).file_name || "document"}`,
          voice: () => "🎤 voice message", video_note: () => "⏺ video message",
          video: () => "🎬 video", audio: () => "🎵 audio", animation: () => "🎞 GIF",
          contact: () => `👤 ${(data.contact || {}).phone_number || "contact"}`,
        };
        bubble.append((labels[message.kind] || (() => `(${message.kind})`))());
        if (message.caption) {
          bubble.append("\n");
          bubble.append(richText(message.caption, message.entities, this));
        }
        bubble.append(this.meta([message]));
      }
      wrap.append(bubble);
      const keyboard = (data.reply_markup || {}).inline_keyboard;
      if (keyboard && keyboard.length) wrap.append(this.inlineKeyboard(message, keyboard));
      return wrap;
    }

    albumNode(members) {
      const wrap = this.wrapper(members[0]);
      wrap.dataset.messageIds = members.map((m) => m.message_id).join(",");
      wrap.classList.add("album-message");
      const bubble = el("div", "bubble media");
      const grid = el("div", "album");
      for (const member of members) {
        if (member.kind === "photo") grid.append(photoNode(member, this));
        else if (member.kind === "video") grid.append(mediaNode(member, this));
        else grid.append(el("div", "bubble", `(${member.kind})`));
      }
      bubble.append(grid);
      const captioned = members.find((m) => m.caption);
      const part = el("div", "caption");
      if (captioned) part.append(richText(captioned.caption, captioned.entities, this));
      part.append(this.meta(members));
      bubble.append(part);
      wrap.append(bubble);
      return wrap;
    }

    inlineKeyboard(message, rows) {
      const keyboard = el("div", "inline-keyboard");
      for (const row of rows) {
        const line = el("div", "inline-row");
        for (const button of row) {
          const node = el("button", "inline-btn", button.text);
          node.type = "button";
          if (button.url) {
            node.title = button.url;
            node.addEventListener("click", () => window.open(button.url, "_blank", "noopener"));
          } else {
            node.addEventListener("click", () => {
              node.classList.add("pending");
              this.act("press", { text: button.text, message_id: message.message_id,
                kind: "inline" }).finally(() => node.classList.remove("pending"));
            });
          }
          line.append(node);
        }
        keyboard.append(line);
      }
      return keyboard;
    }

    renderKeyboard(markup) {
      const json = JSON.stringify(markup || null);
      if (json === this.keyboardJson) return;
      this.keyboardJson = json;
      const area = $(".reply-keyboard", this.root);
      area.replaceChildren();
      const rows = (markup && markup.keyboard) || [];
      area.hidden = rows.length === 0;
      for (const row of rows) {
        const line = el("div", "reply-row");
        for (const raw of row) {
          const button = typeof raw === "string" ? { text: raw } : raw;
          const node = el("button", "reply-btn", button.text);
          node.type = "button";
          node.addEventListener("click", () => {
            if (button.request_location) {
              chooseLocation(this, button.text);
            } else {
              this.act("press", { text: button.text, kind: "reply" });
            }
          });
          line.append(node);
        }
        area.append(line);
      }
      this.keepAtBottom();
    }

    async act(action, body) {
      try {
        const result = await api("POST", `/sandbox/users/${this.id}/${action}`, body || {});
        this.stick = true;
        return result;
      } catch (error) {
        toast(error.message, "error");
        return null;
      }
    }

    sendText(text) {
      return this.act("text", { text });
    }

    async sendPhoto(file) {
      const dataUrl = await new Promise((resolve, reject) => {
        const reader = new FileReader();
        reader.onload = () => resolve(reader.result);
        reader.onerror = () => reject(reader.error);
        reader.readAsDataURL(file);
      });
      const base64 = String(dataUrl).slice(String(dataUrl).indexOf(",") + 1);
      return this.act("photo", { data_b64: base64 });
    }

    sendLocation(latitude, longitude, buttonText) {
      if (buttonText) {
        return this.act("press", { text: buttonText, kind: "reply", latitude, longitude });
      }
      return this.act("location", { latitude, longitude });
    }
  }

  function unitKey(message) {
    return message.media_group_id ? `album:${message.media_group_id}` : `msg:${message.message_id}`;
  }

  // -- the location picker --------------------------------------------------------------------

  let locationTarget = null;

  function setupLocationDialog() {
    const presets = $("#location-presets");
    for (const [name, latitude, longitude] of PRESETS) {
      const button = el("button", "preset", name);
      button.type = "button";
      button.dataset.city = name;
      button.addEventListener("click", () => {
        // A few hundred metres of jitter, so that two people do not stand on one spot.
        $("#location-lat").value = (latitude + (Math.random() - 0.5) * 0.01).toFixed(5);
        $("#location-lon").value = (longitude + (Math.random() - 0.5) * 0.01).toFixed(5);
        presets.querySelectorAll(".preset").forEach((p) => p.classList.toggle("chosen", p === button));
      });
      presets.append(button);
    }
    const dialog = $("#location-dialog");
    $("#location-cancel").addEventListener("click", () => dialog.close("cancel"));
    $("#location-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const latitude = Number($("#location-lat").value);
      const longitude = Number($("#location-lon").value);
      const target = locationTarget;
      dialog.close("send");
      if (target) target.chat.sendLocation(latitude, longitude, target.buttonText);
    });
  }

  function chooseLocation(chat, buttonText) {
    locationTarget = { chat, buttonText };
    const dialog = $("#location-dialog");
    $("h3", dialog).textContent = `${displayName(chat.user)}: share a location`;
    dialog.showModal();
  }

  // -- people and open chats ------------------------------------------------------------------

  function openChat(userId) {
    if (chats.has(userId)) {
      chats.get(userId).root.scrollIntoView({ behavior: "smooth", inline: "nearest" });
      return chats.get(userId);
    }
    const user = users.get(userId);
    if (!user) return null;
    const chat = new Chat(user);
    chats.set(userId, chat);
    $("#chats").append(chat.root);
    $("#empty-state").hidden = true;
    save();
    renderPeople();
    chat.refresh();
    return chat;
  }

  function closeChat(userId) {
    const chat = chats.get(userId);
    if (!chat) return;
    chats.delete(userId);
    chat.root.remove();
    $("#empty-state").hidden = chats.size > 0;
    save();
    renderPeople();
  }

  function renderPeople() {
    const filter = $("#people-filter").value.trim().toLowerCase();
    const list = $("#people-list");
    const ordered = [...users.values()].sort((a, b) => {
      const mineA = mine.has(a.id) ? 0 : 1;
      const mineB = mine.has(b.id) ? 0 : 1;
      return mineA - mineB || a.id - b.id;
    });
    list.replaceChildren();
    for (const user of ordered) {
      const name = displayName(user);
      if (filter && !`${name} ${user.username || ""} ${user.id}`.toLowerCase().includes(filter)) {
        continue;
      }
      const item = el("li", `person${chats.has(user.id) ? " open" : ""}`);
      item.dataset.userId = String(user.id);
      const face = el("div", "avatar");
      avatar(face, user);
      const text = el("div", "person-name");
      text.append(el("div", null, name));
      const info = chatInfo.get(user.id);
      const meta = [mine.has(user.id) ? "yours" : null, user.language_code,
        user.username ? `@${user.username}` : null].filter(Boolean).join(" · ");
      text.append(el("div", "person-meta", meta));
      item.append(face, text);
      const seen = seenVersions.get(user.id);
      if (info && !chats.has(user.id) && seen !== undefined && info.version > seen) {
        item.append(el("span", "dot"));
      }
      item.title = `Open the chat of ${name}`;
      item.addEventListener("click", () => openChat(user.id));
      list.append(item);
    }
  }

  async function loadUsers() {
    const data = await api("GET", "/sandbox/users");
    users.clear();
    for (const user of data.users) users.set(user.id, user);
    for (const id of [...mine]) if (!users.has(id)) mine.delete(id);
  }

  // The single long poll: any chat changed -> refresh the open ones that did.
  async function followActivity() {
    let total = -1;
    for (;;) {
      try {
        const wait = total < 0 ? 0 : POLL_SECONDS;
        const data = await api("GET", `/sandbox/chats?changed_since=${total}&wait=${wait}`);
        total = data.total;
        let unknown = false;
        for (const info of data.chats) {
          chatInfo.set(info.user.id, info);
          if (!users.has(info.user.id)) unknown = true;
          if (!seenVersions.has(info.user.id)) seenVersions.set(info.user.id, info.version);
          const chat = chats.get(info.user.id);
          if (chat && info.version > chat.version) chat.refresh();
        }
        if (unknown) await loadUsers();
        renderPeople();
      } catch (error) {
        await pause(RETRY_MS);
      }
    }
  }

  async function describeBot() {
    try {
      const data = await api("GET", "/sandbox/bots");
      bot = data.bots[0];
      $("#bot-line").textContent = `talking to @${bot.username} · the bot answers within a moment`;
    } catch (error) {
      $("#bot-line").textContent = `sandbox unreachable: ${error.message}`;
    }
  }

  async function addUser(event) {
    event.preventDefault();
    const nameInput = $("#new-name");
    const name = nameInput.value.trim();
    if (!name) return;
    try {
      const data = await api("POST", "/sandbox/users", {
        first_name: name, language_code: $("#new-language").value,
      });
      nameInput.value = "";
      users.set(data.user.id, data.user);
      mine.add(data.user.id);
      openChat(data.user.id);
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async function main() {
    setupLocationDialog();
    $("#add-user").addEventListener("submit", addUser);
    $("#people-filter").addEventListener("input", renderPeople);
    $("#alert-ok").addEventListener("click", () => { $("#alert").hidden = true; });
    await describeBot();
    try {
      await loadUsers();
    } catch (error) {
      toast(`Could not list users: ${error.message}`, "error");
    }
    for (const id of saved.open || []) if (users.has(id)) openChat(id);
    save();
    renderPeople();
    document.body.dataset.ready = "true";
    followActivity();
  }

  main();
})();
