// Keyboard shortcuts, as Discourse and GitHub have them: j / k next and previous post (or row of
// a list), r reply, / search, g h home, g n New, ? the list of them. Loaded only on the pages of
// a reader who has them on (templates/base.html: a member turns them off in /settings, WCAG
// 2.1.4); the words of the list are the server's (templates/_shortcuts.html), this file has none.
// Progressive enhancement: without it the pages are the same, with no shortcuts.
(function () {
  "use strict";

  var help = document.getElementById("shortcuts-help");
  if (!help || document.body.getAttribute("data-shortcuts") !== "on") return;

  // A guest has no settings: the list offers to turn them off in this browser (WCAG 2.1.4), a
  // mark in localStorage that this file reads first. Signed in, the member's setting decides.
  var GUEST_OFF = "forum.shortcuts";
  var guest = !document.body.getAttribute("data-user");
  function offInThisBrowser() {
    try {
      return window.localStorage.getItem(GUEST_OFF) === "off";
    } catch (e) {
      return false; // storage refused (a private window): they stay on
    }
  }
  if (guest && offInThisBrowser()) return;
  var off = false; // turned off from the list, on this page

  // What j and k move through: the posts of a topic, the topics of a SIG and of New, search
  // results, notifications. A post takes the focus itself; a row gives it to its first link.
  var ITEMS = ".posts > article.post, table.topic-list > tbody > tr, .search-results > li, ol.notifications > li";
  var CURRENT = "shortcut-current";
  // A second key of a sequence (g, then h) counts this long after the first.
  var SEQUENCE_MS = 1500;

  var current = null; // the item j / k last moved to
  var pending = null; // "g", waiting for its second key
  var pendingTimer = null;
  var dialog = null;
  var opener = null;

  function isTyping(target) {
    if (!target || target === document.body) return false;
    if (target.isContentEditable) return true;
    var name = target.tagName;
    return name === "INPUT" || name === "TEXTAREA" || name === "SELECT";
  }

  function items() {
    return Array.prototype.filter.call(document.querySelectorAll(ITEMS), function (item) {
      return item.offsetParent !== null || item.getClientRects().length > 0; // shown
    });
  }

  function focusTarget(item) {
    if (item.matches("article.post")) return item;
    return item.querySelector("a[href]") || item;
  }

  function mark(item) {
    if (current && current !== item) current.classList.remove(CURRENT);
    current = item;
    item.classList.add(CURRENT);
    var target = focusTarget(item);
    if (target === item && !item.hasAttribute("tabindex")) item.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
    var place = item.getBoundingClientRect();
    var height = window.innerHeight || document.documentElement.clientHeight;
    if (place.top < 0 || place.bottom > height) {
      item.scrollIntoView({ block: place.height > height ? "start" : "nearest" });
    }
  }

  // Where j / k start: the item last moved to, else the one holding the focus, else the first
  // one in sight (a page opened at post #5 starts there).
  function startIndex(list) {
    var active = document.activeElement;
    for (var i = 0; i < list.length; i++) {
      if (list[i] === current || (active && active !== document.body && list[i].contains(active))) return i;
    }
    return -1;
  }

  function firstInSight(list) {
    for (var i = 0; i < list.length; i++) {
      if (list[i].getBoundingClientRect().bottom > 0) return i;
    }
    return list.length - 1;
  }

  function move(step) {
    var list = items();
    if (!list.length) return false;
    var at = startIndex(list);
    var next = at < 0 ? firstInSight(list) : Math.max(0, Math.min(list.length - 1, at + step));
    mark(list[next]);
    return true;
  }

  function reply() {
    var box = document.querySelector("#reply-form textarea");
    if (box) {
      box.focus({ preventScroll: true });
      box.scrollIntoView({ block: "center" });
      return true;
    }
    // No reply box here (a guest, a member who must join first): its link or button.
    var other = document.querySelector(".reply-box [data-shortcut='reply']");
    if (other && other.tagName !== "A" && other.tagName !== "BUTTON") other = other.querySelector("a[href]");
    if (!other) return false;
    if (other.tagName === "A") window.location.assign(other.href);
    else {
      other.focus({ preventScroll: true });
      other.scrollIntoView({ block: "center" });
    }
    return true;
  }

  function search() {
    var box = document.getElementById("header-search") || document.querySelector("main input[type='search']");
    if (!box) return false;
    box.focus();
    box.select();
    return true;
  }

  function go(name) {
    var url = help.getAttribute("data-" + name);
    if (!url) return false;
    window.location.assign(url);
    return true;
  }

  function openHelp() {
    if (!dialog) {
      dialog = help.content.querySelector("dialog").cloneNode(true);
      document.body.appendChild(dialog);
      var turnOff = dialog.querySelector("[data-shortcuts-off]");
      if (turnOff) {
        turnOff.addEventListener("click", function () {
          try {
            window.localStorage.setItem(GUEST_OFF, "off");
          } catch (e) {
            // not kept: off for this page only
          }
          off = true;
          dialog.close();
        });
      }
      dialog.addEventListener("close", function () {
        // Back where the reader was (a post j moved to), where the browser did not put it back
        // itself. This runs a moment after the dialog closed: a key pressed meanwhile (r) may
        // have moved the focus on already, and it stays there.
        var now = document.activeElement;
        if (opener && document.contains(opener) && (!now || now === document.body)) {
          opener.focus({ preventScroll: true });
        }
        opener = null;
      });
    }
    if (dialog.open) return true;
    opener = document.activeElement !== document.body ? document.activeElement : null;
    dialog.showModal();
    // "Close" first, not the settings link before it (the <template> has no autofocus: a page
    // has one, on the field a refused form wants seen, forum.js).
    dialog.querySelector("[data-shortcuts-close]").focus();
    return true;
  }

  function clearPending() {
    pending = null;
    window.clearTimeout(pendingTimer);
  }

  document.addEventListener("keydown", function (event) {
    if (off) return;
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || event.isComposing) return;
    if (isTyping(event.target) || document.querySelector("dialog[open]")) {
      clearPending();
      return;
    }
    var key = event.key;
    var done = false;
    if (pending === "g") {
      clearPending();
      if (key === "h") done = go("home");
      else if (key === "n") done = go("new");
    } else if (key === "g") {
      pending = "g";
      pendingTimer = window.setTimeout(clearPending, SEQUENCE_MS);
      done = true;
    } else if (key === "j") done = move(1);
    else if (key === "k") done = move(-1);
    else if (key === "r") done = reply();
    else if (key === "/") done = search();
    else if (key === "?") done = openHelp();
    if (done) event.preventDefault();
  });

  // A click or Tab elsewhere: the item j / k moved to is no longer where the reader is.
  document.addEventListener("focusin", function (event) {
    if (current && !current.contains(event.target) && !(dialog && dialog.contains(event.target))) {
      current.classList.remove(CURRENT);
      current = null;
    }
  });
})();
