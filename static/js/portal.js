// Small progressive enhancements; every page works without them.
(function () {
  // Reveal a component's parameter fields when its box is ticked.
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (!field.matches) { return; }
    if (field.matches("input[data-reveal]")) {
      var panel = document.getElementById(field.dataset.reveal);
      if (panel) { panel.hidden = !field.checked; }
      field.setAttribute("aria-expanded", field.checked ? "true" : "false");
    }
    // A component that needs others (JaCoCo needs a JRE): tick them too, and say so.
    if (field.matches("input[data-requires]") && field.checked) {
      var added = [];
      field.dataset.requires.split(" ").forEach(function (slug) {
        var needed = document.querySelector('input[name="component"][value="' + slug + '"]');
        if (needed && !needed.checked) {
          needed.checked = true;
          needed.dispatchEvent(new Event("change", { bubbles: true }));
          added.push(needed.closest("label").querySelector("strong").textContent);
        }
      });
      var status = document.getElementById("sr-status");
      var note = document.getElementById("requires-note-" + field.value);
      if (added.length) {
        var text = added.join(", ") + " added: " + field.dataset.name + " needs " + (added.length > 1 ? "them" : "it") + ".";
        if (status) { status.textContent = text; }
        if (!note) {
          note = document.createElement("p");
          note.id = "requires-note-" + field.value;
          note.className = "help requires-note";
          field.closest("label").insertAdjacentElement("afterend", note);
        }
        note.textContent = text;
      }
    }
    // A filter that applies as soon as it changes (an attribute, not an inline handler: the CSP refuses those).
    if (field.matches("select[data-submit-on-change]") && field.form) { field.form.submit(); }
  });

  // Build log follow mode: stay at the bottom while on; scrolling up pauses it.
  function setupLog() {
    var log = document.getElementById("log");
    var lines = document.getElementById("log-lines");
    var follow = document.getElementById("follow");
    var jump = document.getElementById("jump-latest");
    if (!log || !lines || !follow) { return; }
    var following = true, unseen = 0;
    function toBottom() { log.scrollTop = log.scrollHeight; }
    function setFollow(on) {
      following = on;
      follow.setAttribute("aria-pressed", on ? "true" : "false");
      if (on) { unseen = 0; jump.hidden = true; toBottom(); }
    }
    follow.addEventListener("click", function () { setFollow(!following); });
    jump.addEventListener("click", function () { setFollow(true); });
    log.addEventListener("scroll", function () {
      var atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 8;
      if (!atBottom && following) { setFollow(false); }
    });
    var MAX_LINES = 5000;  // a build that prints for an hour must not grow the page without end
    new MutationObserver(function (mutations) {
      var extra = lines.children.length - MAX_LINES;
      for (; extra > 0; extra--) { lines.removeChild(lines.firstElementChild); }
      var added = 0;
      mutations.forEach(function (m) { added += m.addedNodes.length; });
      if (following) { toBottom(); } else if (added) {
        unseen += added; jump.hidden = false; jump.textContent = "↓ Jump to latest (" + unseen + " new)";
      }
      var waiting = document.getElementById("log-waiting");
      if (waiting) { waiting.remove(); }
    }).observe(lines, { childList: true });
    if (!location.hash) { toBottom(); }
  }
  document.addEventListener("DOMContentLoaded", setupLog);

  // Copy and Download buttons of a preview (hidden without JavaScript, which they need; Copy link
  // also needs the clipboard, which browsers give only to secure pages: without it, the link stays).
  function revealPreviewActions(root) {
    (root || document).querySelectorAll("[data-copy][hidden], [data-download][hidden]").forEach(function (b) { b.hidden = false; });
    if (navigator.clipboard) {
      (root || document).querySelectorAll("[data-copy-link][hidden]").forEach(function (b) { b.hidden = false; });
    }
  }
  document.addEventListener("DOMContentLoaded", function () { revealPreviewActions(); });
  var copied = null;  // the last link copied: {href, text, at}
  document.addEventListener("htmx:afterSwap", function (event) {
    revealPreviewActions(event.target);
    // Leaving a field refreshes the preview, often just as Copy link is clicked: a copy of the same
    // link a moment ago stays said in the new preview.
    var button = event.target.querySelector && event.target.querySelector("[data-copy-link]");
    if (!button || !copied || Date.now() - copied.at > 10000) { return; }
    var link = document.getElementById(button.dataset.copyLink), done = document.getElementById(button.dataset.done);
    if (link && done && link.href === copied.href) { done.textContent = copied.text; done.hidden = false; }
    if (document.activeElement === document.body) { button.focus(); }  // the button pressed was replaced
  });
  // Copy link: the link's full address to the clipboard, said on screen beside the button and to
  // screen readers through the page's status region.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy-link]");
    if (!button) { return; }
    var link = document.getElementById(button.dataset.copyLink);
    var done = document.getElementById(button.dataset.done);
    var status = document.getElementById("sr-status");
    function say(text) {
      if (done) { done.textContent = text; done.hidden = false; }
      if (status) { status.textContent = text; }
      copied = { href: link.href, text: text, at: Date.now() };
    }
    if (!link) { return; }
    navigator.clipboard.writeText(link.href).then(function () {
      say("Link copied: paste it to a team member.");
    }, function () {
      say("The link could not be copied: copy it from \u201cLink to this configuration\u201d instead.");
    });
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy], [data-download]");
    if (!button) { return; }
    var source = document.getElementById(button.dataset.copy || button.dataset.download);
    if (!source) { return; }
    var text = source.textContent;
    if (button.dataset.copy) {
      navigator.clipboard.writeText(text).then(function () {
        button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 1500);
      });
    } else {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([text], { type: "application/octet-stream" }));
      link.download = button.dataset.filename || "download.txt";
      document.body.appendChild(link); link.click(); link.remove();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    }
  });

  // A form refused by the server: focus its error summary (whose links lead to the fields), as
  // GOV.UK's pattern does, so keyboard and screen-reader users start from what to fix.
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.getElementById("error-summary");
    if (summary && summary.hasAttribute("tabindex")) { summary.focus(); }
  });

  // The Menu button of narrow screens (portal.css shows it only there): Enter or Space opens and
  // closes the navigation it controls; Escape inside it closes it and gives the focus back.
  function setupMenu() {
    var toggle = document.getElementById("menu-toggle");
    var menu = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
    if (!menu) { return; }
    function isOpen() { return toggle.getAttribute("aria-expanded") === "true"; }
    toggle.addEventListener("click", function () { toggle.setAttribute("aria-expanded", isOpen() ? "false" : "true"); });
    document.addEventListener("keydown", function (event) {
      var inside = menu.contains(document.activeElement) || document.activeElement === toggle;
      if (event.key === "Escape" && isOpen() && inside && toggle.offsetParent !== null) {
        toggle.setAttribute("aria-expanded", "false");
        toggle.focus();
      }
    });
  }
  document.addEventListener("DOMContentLoaded", setupMenu);

  // After an htmx swap that replaced the control the user activated (the trend period links),
  // move focus to the new content's heading instead of losing it to <body>.
  document.addEventListener("htmx:afterSettle", function () {
    var target = document.querySelector("[data-focus-after-swap]");
    if (target) { target.removeAttribute("data-focus-after-swap"); target.focus(); }
  });
})();
