/* bedside: progressive enhancement only. Every page works without this file. */
(function () {
  "use strict";

  // -- citations: hover and keyboard focus show the source passage (CSS); a tap or click pins it open ----------
  function closeCites(except) {
    document.querySelectorAll(".cite.is-open").forEach(function (el) {
      if (el !== except) { el.classList.remove("is-open"); }
    });
  }

  function placePopover(cite) {
    var pop = cite.querySelector(".source-pop");
    if (!pop) { return; }
    pop.style.removeProperty("--shift");
    var rect = pop.getBoundingClientRect();
    var margin = 8;
    var shift = 0;
    if (rect.right > window.innerWidth - margin) { shift = window.innerWidth - margin - rect.right; }
    if (rect.left + shift < margin) { shift = margin - rect.left; }
    if (shift) { pop.style.setProperty("--shift", shift + "px"); }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest(".cite-link") : null;
    if (link) {
      var cite = link.parentElement;
      cite.classList.remove("is-dismissed");
      if (!cite.classList.contains("is-open")) {
        event.preventDefault();       // first tap: show the source; a second tap follows the link
        closeCites(cite);
        cite.classList.add("is-open");
        placePopover(cite);
        return;
      }
      closeCites(null);
      return;
    }
    if (!(event.target.closest && event.target.closest(".source-pop"))) { closeCites(null); }
  });

  // Escape closes every popover however it was opened (pinned, hovered or focused); it stays closed until the
  // pointer or the focus leaves that citation and comes back (WCAG 1.4.13).
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    document.querySelectorAll(".cite.is-open, .cite:hover, .cite:focus-within").forEach(function (el) {
      el.classList.add("is-dismissed");
    });
    closeCites(null);
  });

  function reopen(event) {
    var cite = event.target.closest ? event.target.closest(".cite") : null;
    if (cite) { cite.classList.remove("is-dismissed"); placePopover(cite); }
  }
  function leave(event) {
    var cite = event.target.closest ? event.target.closest(".cite") : null;
    var to = event.relatedTarget && event.relatedTarget.closest ? event.relatedTarget.closest(".cite") : null;
    if (cite && to !== cite) { cite.classList.remove("is-dismissed"); }
  }
  document.addEventListener("mouseover", function (event) {
    var from = event.relatedTarget && event.relatedTarget.closest ? event.relatedTarget.closest(".cite") : null;
    var cite = event.target.closest ? event.target.closest(".cite") : null;
    if (cite && from !== cite) { reopen(event); }
  });
  document.addEventListener("mouseout", leave);
  document.addEventListener("focusin", reopen);
  document.addEventListener("focusout", leave);

  // -- asking: a busy state, and with an LLM configured, the draft streams in ---------------------------------
  function setBusy(form, busy, label) {
    var button = form.querySelector("button[type=submit]");
    if (!button) { return; }
    if (busy) {
      button.dataset.label = button.textContent;
      button.textContent = label || "Composing…";
    } else if (button.dataset.label) {
      button.textContent = button.dataset.label;
    }
    button.disabled = busy;
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function showError(form, message) {
    var draft = form.querySelector(".draft");
    if (!draft) { return; }
    draft.hidden = false;
    draft.classList.add("draft-error");
    draft.querySelector(".draft-status").textContent = message;
  }

  function parseEvents(buffer, onEvent) {
    var parts = buffer.split("\n\n");
    var rest = parts.pop();
    parts.forEach(function (block) {
      var name = "message";
      var data = [];
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event:") === 0) { name = line.slice(6).trim(); }
        else if (line.indexOf("data:") === 0) { data.push(line.slice(5).replace(/^ /, "")); }
      });
      if (data.length) { onEvent(name, JSON.parse(data.join("\n"))); }
    });
    return rest;
  }

  function stream(form) {
    var data = new FormData(form);
    var body = { question: String(data.get("question") || "") };
    ["audience", "conversation", "follows"].forEach(function (key) {
      if (data.get(key)) { body[key] = String(data.get(key)); }
    });
    var draft = form.querySelector(".draft");
    var list = draft.querySelector(".draft-list");
    list.textContent = "";
    draft.classList.remove("draft-error");
    draft.querySelector(".draft-status").textContent = "Drafting from the sources — unverified until checked";
    draft.hidden = false;
    setBusy(form, true, "Drafting…");
    var finished = false;

    function onEvent(name, payload) {
      if (name === "statement") {
        var item = document.createElement("li");
        item.textContent = payload.text;   // text, never HTML
        list.appendChild(item);
      } else if (name === "done") {
        finished = true;
        draft.querySelector(".draft-status").textContent = "Verified — opening the answer…";
        window.location.assign(payload.url + "?c=" + encodeURIComponent(payload.conversation));
      } else if (name === "error") {
        finished = true;
        showError(form, payload.detail || "Something went wrong.");
        setBusy(form, false);
      }
    }

    fetch(form.dataset.stream, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (!response.ok) {
        return response.json().then(function (err) {
          finished = true;
          showError(form, err.detail || ("Error " + response.status));
          setBusy(form, false);
        });
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) {
            if (!finished) { showError(form, "The connection closed before the answer was ready."); setBusy(form, false); }
            return;
          }
          buffer = parseEvents(buffer + decoder.decode(chunk.value, { stream: true }).replace(/\r/g, ""), onEvent);
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      showError(form, "Could not reach bedside. Check your connection and try again.");
      setBusy(form, false);
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !(form.classList.contains("ask-form") || form.closest(".examples"))) { return; }
    if (form.dataset.stream && window.fetch && window.TextDecoder && window.ReadableStream) {
      event.preventDefault();
      stream(form);
      return;
    }
    setBusy(form, true);
  });

  // A page restored from the back-forward cache must not keep a disabled button.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[aria-busy=true]").forEach(function (form) { setBusy(form, false); });
  });
})();
