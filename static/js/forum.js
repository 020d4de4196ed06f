// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // The scripts' strings in the page's language: a small JSON catalog (GET /i18n/<lang>.json,
  // named on <html data-i18n>), loaded once. Until it arrives, or if it cannot, English.
  var ENGLISH = {
    new_replies: { one: "%(num)d new reply", other: "%(num)d new replies" },
    show: "show",
    replies_shown: { one: "%(num)d new reply shown", other: "%(num)d new replies shown" },
    no_members: "No members",
    and_guests: { one: "and %(num)d guest", other: "and %(num)d guests" },
    new_notification: "New notification: %(text)s",
    notification: "notification",
    draft_saved: "Draft saved",
    draft_failed: "Draft not saved: %(error)s",
    preview_failed: "No preview: %(error)s",
    nothing_to_preview: "Nothing to preview yet.",
    mention_suggestions: "Members to mention",
    mentions_offered: { one: "%(num)d member suggested", other: "%(num)d members suggested" },
    emoji_suggestions: "Emoji to insert",
    emoji_offered: { one: "%(num)d emoji suggested", other: "%(num)d emoji suggested" },
    someone: "someone",
    reacted_with: "You reacted with %(emoji)s.",
    reaction_taken_back: "Your reaction was taken back.",
    reaction_failed: "Not saved: %(error)s",
    who_reacted_with: "%(names)s reacted with %(emoji)s",
    and_more: { one: "and %(num)d more", other: "and %(num)d more" },
    who_reacted: "Who reacted",
    bookmarked: "Bookmarked",
    uploading: "Uploading %(name)s…",
    uploaded: "%(name)s added",
    upload_failed: "%(name)s not added: %(error)s",
    lightbox: "Picture",
    close: "Close",
    previous: "Previous picture",
    next: "Next picture",
  };
  var catalog = ENGLISH;
  var lang = document.documentElement.lang || "en";
  var numbers = window.Intl ? new Intl.NumberFormat(lang) : null;

  function fill(text, vars) {
    return String(text).replace(/%\((\w+)\)[sd]/g, function (_, name) {
      var value = vars && vars[name];
      if (typeof value === "number" && numbers) return numbers.format(value);
      return value === undefined ? "" : String(value);
    });
  }

  window.forumI18n = {
    // t("show"), t("new_notification", {text: …}); plurals: t("new_replies", {num: 3}).
    t: function (key, vars) {
      var entry = catalog[key] !== undefined ? catalog[key] : ENGLISH[key];
      if (entry && typeof entry === "object") {
        // English, German and Spanish have the same two forms: one, and every other number.
        entry = vars && vars.num === 1 ? entry.one : entry.other;
      }
      return fill(entry === undefined ? key : entry, vars);
    },
  };

  var source = document.documentElement.getAttribute("data-i18n");
  if (source && lang !== "en" && window.fetch) {
    fetch(source, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("catalog " + response.status);
        return response.json();
      })
      .then(function (data) {
        catalog = data;
      })
      .catch(function () {
        /* English stays */
      });
  }

  // The browser's time zone: a member's is sent once (then it is changed in settings only); a
  // guest's goes into a cookie the pages read.
  var zone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
  var detectUrl = document.body.getAttribute("data-detect-timezone");
  if (zone && detectUrl) {
    var token = document.querySelector('meta[name="csrf-token"]');
    var body = new URLSearchParams({ timezone: zone });
    fetch(detectUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.content : "", Accept: "application/json" },
      body: body,
    }).catch(function () {});
  } else if (zone && !document.body.getAttribute("data-user") && !/(^|;\s*)forum_tz=/.test(document.cookie)) {
    document.cookie =
      "forum_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
  }

  // The header's "Menu" (a <details>, templates/base.html): it works without this. Escape or a
  // click outside closes it on phones; on wide screens a browser that cannot show a closed
  // <details>' links by CSS (::details-content) gets it opened, so the header looks the same.
  var menu = document.getElementById("site-menu");
  if (menu) {
    var wide = window.matchMedia && window.matchMedia("(width > 50rem)");
    var styled = window.CSS && CSS.supports && CSS.supports("selector(::details-content)");
    var fitWidth = function () {
      if (wide && !styled) menu.open = wide.matches;
    };
    fitWidth();
    if (wide && wide.addEventListener) wide.addEventListener("change", fitWidth);
    var isPhoneMenu = function () {
      return menu.open && !(wide && wide.matches);
    };
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && isPhoneMenu() && menu.contains(document.activeElement)) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
    document.addEventListener("click", function (event) {
      if (isPhoneMenu() && !menu.contains(event.target)) menu.open = false;
    });
  }

  // A code block or table in a post that scrolls sideways (forum.css) takes the keyboard's
  // focus, so arrow keys scroll it (browsers without focusable scrollers; axe-core asks it).
  function focusableScrollers() {
    var boxes = document.querySelectorAll(".post-body pre, .post-body table");
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i];
      if (box.scrollWidth > box.clientWidth + 1) box.setAttribute("tabindex", "0");
      else if (box.getAttribute("tabindex") === "0") box.removeAttribute("tabindex");
    }
  }
  focusableScrollers();
  var resizing = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizing);
    resizing = window.setTimeout(focusableScrollers, 200);
  });

  // The colour switch at the foot of the page: the same form, sent without leaving the page; the
  // new colours show at once (forum.css reads <html data-theme>). Without this the form posts
  // and the server redirects back.
  var SCHEMES = { system: "light dark", light: "light", dark: "dark" };
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    if (!form.classList || !form.classList.contains("theme-menu") || !window.fetch) return;
    if (!button || !SCHEMES[button.value]) return;
    event.preventDefault();
    var body = new FormData(form);
    body.set("theme", button.value);
    fetch(form.action, { method: "POST", credentials: "same-origin", body: body, redirect: "manual" })
      .then(function (response) {
        if (!(response.ok || response.type === "opaqueredirect")) throw new Error("theme " + response.status);
        document.documentElement.setAttribute("data-theme", button.value);
        var meta = document.querySelector('meta[name="color-scheme"]');
        if (meta) meta.setAttribute("content", SCHEMES[button.value]);
        form.querySelectorAll("button[name=theme]").forEach(function (other) {
          if (other === button) other.setAttribute("aria-current", "true");
          else other.removeAttribute("aria-current");
        });
      })
      .catch(function () {
        // The server says what went wrong, on a page of its own.
        var chosen = document.createElement("input");
        chosen.type = "hidden";
        chosen.name = "theme";
        chosen.value = button.value;
        form.appendChild(chosen);
        form.submit();
      });
  });

  // Ask before destructive actions (forms marked data-confirm).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    // A button that only moves about the form (another page of a list) asks nothing.
    if (event.submitter && event.submitter.hasAttribute("data-no-confirm")) return;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    } else if (question) {
      // Asked and agreed: the server need not show its confirmation page (sysop menus).
      form.querySelectorAll('input[name="confirm_first"]').forEach(function (input) {
        input.remove();
      });
    }
  });

  // Sysop menus (<details data-menu>): they work as plain disclosures; here one is open at a
  // time, Escape closes it (focus back on its summary), and a click elsewhere closes it.
  function closeMenus(except) {
    document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }
  document.addEventListener(
    "toggle",
    function (event) {
      var menu = event.target;
      if (menu.matches && menu.matches("details[data-menu]") && menu.open) closeMenus(menu);
    },
    true
  );
  document.addEventListener("click", function (event) {
    if (!event.target.closest) return;
    var menu = event.target.closest("details[data-menu]");
    if (!menu || event.target.closest("summary")) closeMenus(menu);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !event.target.closest) return;
    var menu = event.target.closest("details[data-menu][open]");
    if (!menu) return;
    menu.removeAttribute("open");
    menu.querySelector("summary").focus();
  });

  // The member card: a click (or Enter) on a member's name in a post or a list opens a small
  // card (joined, posts, SIGs in common) instead of the profile; Escape or a click elsewhere
  // closes it and focus goes back to the name. Without this the name is a link to the profile.
  var openCard = null;

  function closeCard(restore) {
    if (!openCard) return;
    var link = openCard.link;
    openCard.box.remove();
    link.setAttribute("aria-expanded", "false");
    openCard = null;
    if (restore) link.focus();
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.member-link");
    if (openCard && !openCard.box.contains(event.target) && link !== openCard.link) closeCard(false);
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    if (openCard && openCard.link === link) {
      closeCard(true);
      return;
    }
    closeCard(false);
    fetch(link.getAttribute("href") + "/card?fragment=1", {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var card = doc.querySelector(".member-card");
        if (!card) throw new Error("no card");
        var box = document.createElement("div");
        box.setAttribute("role", "dialog");
        box.setAttribute("aria-label", link.textContent);
        box.className = "member-card-box";
        box.appendChild(document.adoptNode(card));
        document.body.appendChild(box);
        var place = link.getBoundingClientRect();
        var width = card.offsetWidth;
        var left = Math.max(8, Math.min(place.left + window.scrollX, window.scrollX + document.documentElement.clientWidth - width - 8));
        box.style.left = left + "px";
        box.style.top = place.bottom + window.scrollY + 6 + "px";
        link.setAttribute("aria-expanded", "true");
        openCard = { box: box, link: link };
        var first = card.querySelector("a");
        if (first) first.focus();
      })
      .catch(function () {
        window.location.href = link.href;
      });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && openCard) closeCard(true);
  });
  document.addEventListener("focusin", function (event) {
    if (openCard && !openCard.box.contains(event.target) && event.target !== openCard.link) closeCard(false);
  });

  // The settings page is several forms, each sent alone (those marked data-keep-unsent): what
  // was typed into the others and not saved would be gone with the page that comes back. It is
  // kept for that page in this tab only (sessionStorage, ten minutes), put back once into the
  // fields that still hold what they held (nothing was saved there since), and the form shows
  // its notice (data-unsent-notice) saying so. Passwords, files and hidden fields are never
  // kept. Without this, the form that was sent keeps its input (the server re-renders it).
  // Kept for the page's own address (data-unsent-page), not the one it came back at: a form
  // sent to its feature's address is refused with the same page shown there.
  var unsentPage = document.querySelector("[data-unsent-page]");
  var UNSENT_KEY = "forum.unsent:" + (unsentPage ? unsentPage.getAttribute("data-unsent-page") : location.pathname);
  var UNSENT_FOR = 10 * 60 * 1000;

  function keptKind(el) {
    var type = (el.type || "").toLowerCase();
    if (!el.name || el.disabled) return null;
    if (type === "checkbox" || type === "radio") return "check";
    if (el.tagName === "SELECT" && !el.multiple) return "select";
    if (el.tagName === "TEXTAREA") return "text";
    if (el.tagName === "INPUT" && /^(text|email|url|search|tel|number)$/.test(type)) return "text";
    return null; // passwords, files, hidden fields, buttons
  }

  function keptKey(el) {
    return keptKind(el) === "check" ? el.name + "=" + el.value : el.name;
  }

  function savedValue(el) {
    var kind = keptKind(el);
    if (kind === "check") return el.defaultChecked;
    if (kind === "select") {
      for (var i = 0; i < el.options.length; i++) {
        if (el.options[i].defaultSelected) return el.options[i].value;
      }
      return el.options.length ? el.options[0].value : "";
    }
    return el.defaultValue;
  }

  function typedValue(el) {
    return keptKind(el) === "check" ? el.checked : el.value;
  }

  function unsentFields(form) {
    var fields = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!keptKind(el)) return;
      var saved = savedValue(el);
      var typed = typedValue(el);
      if (typed !== saved) fields.push([keptKey(el), saved, typed]);
    });
    return fields;
  }

  if (document.querySelector("form[data-keep-unsent]")) {
    document.addEventListener("submit", function (event) {
      if (event.defaultPrevented) return; // not sent after all (a question answered "no")
      var unsent = {};
      var any = false;
      document.querySelectorAll("form[data-keep-unsent]").forEach(function (form) {
        if (form === event.target) return;
        var fields = unsentFields(form);
        if (!fields.length) return;
        unsent[form.getAttribute("data-keep-unsent")] = fields;
        any = true;
      });
      try {
        if (any) sessionStorage.setItem(UNSENT_KEY, JSON.stringify({ at: Date.now(), forms: unsent }));
        else sessionStorage.removeItem(UNSENT_KEY);
      } catch (e) {
        /* no storage in this browser: the sent form still keeps its own input */
      }
    });

    var kept = null;
    try {
      kept = JSON.parse(sessionStorage.getItem(UNSENT_KEY) || "null");
      sessionStorage.removeItem(UNSENT_KEY);
    } catch (e) {
      kept = null;
    }
    if (kept && kept.forms && Date.now() - kept.at < UNSENT_FOR) {
      document.querySelectorAll("form[data-keep-unsent]").forEach(function (form) {
        var fields = kept.forms[form.getAttribute("data-keep-unsent")];
        if (!fields) return;
        var restored = 0;
        fields.forEach(function (field) {
          Array.prototype.forEach.call(form.elements, function (el) {
            if (!keptKind(el) || keptKey(el) !== field[0] || savedValue(el) !== field[1]) return;
            if (keptKind(el) === "check") el.checked = field[2];
            else el.value = field[2];
            restored++;
          });
        });
        var notice = form.querySelector("[data-unsent-notice]");
        if (restored && notice) notice.hidden = false;
      });
    }
  }

  // A refused field takes the focus: its `autofocus` (templates/_macros.html) does that without
  // this file. When the address names a place on the page (a settings form comes back at its
  // "#notifications-heading"), the browser's jump there then takes the focus off it to the page:
  // it is given back once the page has loaded, the jump made.
  var refused = location.hash && document.querySelector("[autofocus][aria-invalid='true']");
  if (refused) {
    window.addEventListener("load", function () {
      var now = document.activeElement;
      if (!now || now === document.body) refused.focus();
    });
  }
})();
