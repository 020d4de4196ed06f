// The composer (new topic, reply, edit): a formatting toolbar with shortcuts, a live preview
// (side by side on wide screens, a tab on phones), drafts kept on the server while typing,
// quoting the selected words of a post, @name and :emoji: completion. Progressive enhancement:
// without this file the form's own "Preview" and "Save draft" buttons do the same on the server
// (and a `:name:` typed in full becomes its emoji as the post is cooked, forum/content.py).
// The realtime script adds new posts to #posts and never touches a form, so nothing here is
// disturbed while a member types.
(function () {
  "use strict";

  var SAVE_AFTER = 2000; // ms after the last keystroke
  var PREVIEW_AFTER = 600;
  var WIDE = window.matchMedia ? window.matchMedia("(min-width: 60rem)") : null;
  var t = window.forumI18n
    ? window.forumI18n.t
    : function (key) {
        return key;
      };

  function token() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function post(url, fields, keepalive) {
    var body = new URLSearchParams(fields);
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      keepalive: !!keepalive,
      headers: { "X-CSRFToken": token(), Accept: "application/json" },
      body: body,
    }).then(function (response) {
      return response.json().then(
        function (data) {
          if (!response.ok) {
            var message = (data && data.error && data.error.message) || String(response.status);
            throw new Error(message);
          }
          return data;
        },
        function () {
          throw new Error(String(response.status));
        }
      );
    });
  }

  // --- editing the text: insert Markdown at the cursor ---------------------------------------
  function replaceSelection(box, before, after, placeholder) {
    var start = box.selectionStart;
    var end = box.selectionEnd;
    var chosen = box.value.slice(start, end) || placeholder || "";
    box.focus();
    box.setRangeText(before + chosen + after, start, end, "end");
    // Keep the words selected (or the placeholder, ready to be typed over).
    box.setSelectionRange(start + before.length, start + before.length + chosen.length);
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function prefixLines(box, prefix) {
    var value = box.value;
    var start = value.lastIndexOf("\n", box.selectionStart - 1) + 1;
    var end = box.selectionEnd;
    var block = value.slice(start, end) || "";
    var lines = block.split("\n").map(function (line) {
      return typeof prefix === "function" ? prefix(line) : prefix + line;
    });
    box.focus();
    box.setRangeText(lines.join("\n"), start, end, "end");
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function insertBlock(box, text) {
    // At the cursor, on lines of its own.
    var start = box.selectionStart;
    var before = box.value.slice(0, start);
    var lead = !before || /\n\n$/.test(before) ? "" : /\n$/.test(before) ? "\n" : "\n\n";
    box.focus();
    box.setRangeText(lead + text, start, box.selectionEnd, "end");
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }

  var ACTIONS = {
    bold: function (box) {
      replaceSelection(box, "**", "**", "");
    },
    italic: function (box) {
      replaceSelection(box, "*", "*", "");
    },
    link: function (box) {
      var start = box.selectionStart;
      var chosen = box.value.slice(start, box.selectionEnd);
      if (/^https?:\/\/\S+$/.test(chosen)) {
        replaceSelection(box, "[", "](" + chosen + ")", "");
        return;
      }
      var text = chosen || "";
      box.focus();
      box.setRangeText("[" + text + "](https://)", start, box.selectionEnd, "end");
      // The address is selected, ready to be typed or pasted over.
      var at = start + text.length + 3;
      box.setSelectionRange(at, at + 8);
      box.dispatchEvent(new Event("input", { bubbles: true }));
    },
    quote: function (box) {
      prefixLines(box, "> ");
    },
    code: function (box) {
      var chosen = box.value.slice(box.selectionStart, box.selectionEnd);
      if (chosen.indexOf("\n") >= 0) replaceSelection(box, "```\n", "\n```", "");
      else replaceSelection(box, "`", "`", "");
    },
    list: function (box) {
      prefixLines(box, function (line) {
        return /^\s*[-*] /.test(line) ? line : "- " + line;
      });
    },
  };
  var SHORTCUTS = { b: "bold", i: "italic", k: "link" };

  // --- the toolbar: one tab stop, arrow keys move between its buttons (ARIA toolbar) -------
  function setupToolbar(toolbar, box) {
    var buttons = Array.prototype.slice.call(toolbar.querySelectorAll("button"));
    function focusButton(index) {
      buttons.forEach(function (b, i) {
        b.tabIndex = i === index ? 0 : -1;
      });
      buttons[index].focus();
    }
    toolbar.addEventListener("keydown", function (event) {
      var index = buttons.indexOf(document.activeElement);
      if (index < 0) return;
      var next = null;
      if (event.key === "ArrowRight") next = (index + 1) % buttons.length;
      else if (event.key === "ArrowLeft") next = (index - 1 + buttons.length) % buttons.length;
      else if (event.key === "Home") next = 0;
      else if (event.key === "End") next = buttons.length - 1;
      if (next === null) return;
      event.preventDefault();
      focusButton(next);
    });
    toolbar.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-md]");
      if (!button) return;
      buttons.forEach(function (b) {
        b.tabIndex = b === button ? 0 : -1;
      });
      ACTIONS[button.getAttribute("data-md")](box);
    });
    box.addEventListener("keydown", function (event) {
      if (!(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey) return;
      var action = SHORTCUTS[event.key.toLowerCase()];
      if (!action) return;
      event.preventDefault();
      ACTIONS[action](box);
    });
    toolbar.hidden = false;
  }

  // --- preview: live beside the text on wide screens, a tab on narrow ones ------------------
  function setupPreview(composer, box) {
    var url = composer.getAttribute("data-preview-url");
    var pane = composer.querySelector(".composer-preview");
    var output = pane && pane.querySelector(".post-body");
    var tabs = composer.querySelector(".composer-tabs");
    var write = composer.querySelector(".composer-write");
    if (!url || !pane || !output || !tabs || !write) return;
    var tabWrite = tabs.querySelector('[aria-controls="' + write.id + '"]');
    var tabPreview = tabs.querySelector('[aria-controls="' + pane.id + '"]');
    var timer = null;
    var shown = null; // the text the preview shows
    var serial = 0;

    function render() {
      var text = box.value;
      if (text === shown) return;
      var mine = ++serial;
      if (!text.trim()) {
        shown = text;
        // The page's own words: the scripts' catalog may not have arrived yet when the
        // composer first shows its empty preview.
        output.textContent = output.getAttribute("data-empty") || t("nothing_to_preview");
        return;
      }
      post(url, { body: text })
        .then(function (data) {
          if (mine !== serial) return; // a later request answers for newer text
          shown = text;
          output.innerHTML = data.html; // cooked and sanitized by the server (forum/content.py)
        })
        .catch(function (error) {
          if (mine !== serial) return;
          shown = null;
          output.textContent = t("preview_failed", { error: error.message });
        });
    }

    function wide() {
      return !WIDE || WIDE.matches;
    }

    function select(previewing) {
      tabWrite.setAttribute("aria-selected", previewing ? "false" : "true");
      tabPreview.setAttribute("aria-selected", previewing ? "true" : "false");
      tabWrite.tabIndex = previewing ? -1 : 0;
      tabPreview.tabIndex = previewing ? 0 : -1;
      write.hidden = previewing;
      pane.hidden = !previewing;
      if (previewing) render();
    }

    function layout() {
      if (wide()) {
        composer.classList.add("side-by-side");
        tabs.hidden = true;
        write.hidden = false;
        write.removeAttribute("role");
        pane.hidden = false;
        pane.removeAttribute("role");
        render();
      } else {
        composer.classList.remove("side-by-side");
        tabs.hidden = false;
        write.setAttribute("role", "tabpanel");
        write.setAttribute("aria-labelledby", tabWrite.id);
        pane.setAttribute("role", "tabpanel");
        select(tabPreview.getAttribute("aria-selected") === "true");
      }
    }

    tabs.addEventListener("click", function (event) {
      var tab = event.target.closest('[role="tab"]');
      if (tab) select(tab === tabPreview);
    });
    tabs.addEventListener("keydown", function (event) {
      if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
      event.preventDefault();
      var previewing = tabPreview.getAttribute("aria-selected") !== "true";
      select(previewing);
      (previewing ? tabPreview : tabWrite).focus();
    });
    box.addEventListener("input", function () {
      if (!wide()) return;
      window.clearTimeout(timer);
      timer = window.setTimeout(render, PREVIEW_AFTER);
    });
    if (WIDE && WIDE.addEventListener) WIDE.addEventListener("change", layout);
    layout();
  }

  // --- drafts: saved 2 s after the last keystroke, and as the page is left -------------------
  function setupDrafts(composer, form, box) {
    var url = composer.getAttribute("data-draft-url");
    var status = composer.querySelector(".draft-status");
    var title = form.querySelector('input[name="title"]');
    if (!url) return;
    var timer = null;
    var dirty = false;
    var sent = false; // the form was submitted: the post takes the draft with it

    function fields() {
      return { body: box.value, title: title ? title.value : "" };
    }

    function say(text) {
      if (status) status.textContent = text;
    }

    function save(keepalive) {
      window.clearTimeout(timer);
      if (!dirty || sent) return;
      dirty = false;
      post(url, fields(), keepalive)
        .then(function () {
          say(t("draft_saved"));
        })
        .catch(function (error) {
          dirty = true;
          say(t("draft_failed", { error: error.message }));
        });
    }

    function changed() {
      if (sent) return;
      dirty = true;
      window.clearTimeout(timer);
      timer = window.setTimeout(save, SAVE_AFTER);
    }

    box.addEventListener("input", changed);
    if (title) title.addEventListener("input", changed);
    form.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (button && button.hasAttribute("formaction")) return; // "Discard draft"
      if (button && button.name === "save_draft") return;
      sent = true;
      window.clearTimeout(timer);
    });
    function leaving() {
      if (dirty && !sent) save(true);
    }
    window.addEventListener("pagehide", leaving);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") leaving();
    });
  }

  // --- completion at the cursor: @name (members) and :name: (emoji) --------------------------
  // A textarea cannot take the combobox role, so it stays a textbox that owns a listbox
  // (aria-autocomplete, aria-controls, aria-activedescendant), as ARIA 1.2 allows for a
  // textbox; a status line says how many suggestions are offered. Each kind has its listbox,
  // shown over what follows the text box (no layout shift); at most one is open.
  //   kind.name        the listbox's id is the box's id and this (body-mentions, body-emoji)
  //   kind.label       the listbox's name, as the page wrote it (data-mentions-label,
  //                    data-emoji-label: translated by the server, so it is the page's language
  //                    before the scripts' catalog arrives); kind.offered: the status line
  //                    ("%(num)d … suggested"), said once suggestions show
  //   kind.pattern     what is typed before the cursor: group 2 is replaced, group 3 is looked up
  //   kind.find(q)     a promise of the suggestions; kind.delay: ms to wait after a keystroke
  //   kind.render(li, item), kind.text(item): an option, and what choosing it puts in the text
  function setupCompletion(box, kind) {
    var list = document.createElement("ul");
    list.id = box.id + "-" + kind.name;
    list.className = "completion-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", kind.label);
    list.hidden = true;
    var live = document.createElement("span");
    live.className = "visually-hidden";
    live.setAttribute("role", "status");
    box.parentNode.insertBefore(list, box.nextSibling);
    box.parentNode.insertBefore(live, list.nextSibling);
    box.setAttribute("aria-autocomplete", "list");
    var controls = (box.getAttribute("aria-controls") || "").split(" ").filter(Boolean);
    box.setAttribute("aria-controls", controls.concat([list.id]).join(" "));
    var items = [];
    var active = -1;
    var timer = null;
    var asked = null;

    function typed() {
      var match = kind.pattern.exec(box.value.slice(0, box.selectionStart));
      return match ? { replace: match[2], query: match[3] } : null;
    }

    function close() {
      if (list.hidden && !items.length) return;
      list.hidden = true;
      list.textContent = "";
      items = [];
      active = -1;
      if (box.getAttribute("aria-activedescendant")) box.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      active = index;
      var options = list.querySelectorAll('[role="option"]');
      for (var i = 0; i < options.length; i++) {
        options[i].setAttribute("aria-selected", i === index ? "true" : "false");
      }
      if (index >= 0) {
        box.setAttribute("aria-activedescendant", options[index].id);
        if (options[index].scrollIntoView) options[index].scrollIntoView({ block: "nearest" });
      } else box.removeAttribute("aria-activedescendant");
    }

    function choose(index) {
      var now = typed();
      if (now === null || !items[index]) return close();
      var end = box.selectionStart;
      box.setRangeText(kind.text(items[index]), end - now.replace.length, end, "end");
      close();
      live.textContent = "";
      box.focus();
      box.dispatchEvent(new Event("input", { bubbles: true }));
    }

    function show(found) {
      close();
      items = found;
      if (!items.length) {
        live.textContent = "";
        return;
      }
      items.forEach(function (item, i) {
        var li = document.createElement("li");
        li.id = list.id + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        kind.render(li, item);
        li.addEventListener("mousedown", function (event) {
          event.preventDefault(); // keep the focus (and the cursor) in the text box
          choose(i);
        });
        list.appendChild(li);
      });
      list.hidden = false;
      highlight(0);
      live.textContent = t(kind.offered, { num: items.length });
    }

    function ask() {
      var now = typed();
      if (now === null) return close();
      asked = now.query;
      kind.find(now.query).then(function (found) {
        var still = typed();
        if (still !== null && still.query === asked) show(found);
      }, close);
    }

    box.addEventListener("input", function () {
      window.clearTimeout(timer);
      if (typed() === null) return close();
      if (kind.delay) timer = window.setTimeout(ask, kind.delay);
      else ask();
    });
    box.addEventListener("keydown", function (event) {
      if (list.hidden || !items.length) return;
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      if (event.key === "ArrowDown") highlight((active + 1) % items.length);
      else if (event.key === "ArrowUp") highlight((active - 1 + items.length) % items.length);
      else if (event.key === "Enter" || (event.key === "Tab" && !event.shiftKey)) choose(active);
      else if (event.key === "Escape") close();
      else return;
      event.preventDefault();
    });
    box.addEventListener("blur", function () {
      window.setTimeout(close, 100);
    });
  }

  // @name: the members who may read this place (the server asks forum/permissions.py).
  function mentionCompletion(url, label) {
    return {
      name: "mentions",
      label: label || t("mention_suggestions"),
      offered: "mentions_offered",
      pattern: /(^|[^A-Za-z0-9_.\/-])@(([A-Za-z0-9_-]{1,32}))$/,
      delay: 200,
      find: function (prefix) {
        return fetch(url + "?q=" + encodeURIComponent(prefix), {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        })
          .then(function (response) {
            return response.ok ? response.json() : { members: [] };
          })
          .then(function (data) {
            return data.members || [];
          });
      },
      render: function (li, name) {
        li.textContent = "@" + name;
      },
      text: function (name) {
        return name + " ";
      },
    };
  }

  // :name: — the emoji list (GET /emoji.json, about 20 KB gzipped) is fetched the first time
  // a colon and two letters are typed, then kept by the browser (its address has its version).
  var EMOJI_OFFERED = 8;
  function emojiCompletion(url, label) {
    var loading = null;
    function load() {
      if (!loading) {
        loading = fetch(url, {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        })
          .then(function (response) {
            if (!response.ok) throw new Error(String(response.status));
            return response.json();
          })
          .then(function (data) {
            var table = data.emoji || {};
            return Object.keys(table).map(function (name) {
              return [name, table[name]];
            });
          });
        loading.catch(function () {
          loading = null; // asked again at the next keystroke
        });
      }
      return loading;
    }
    function order(a, b) {
      return a[0].length - b[0].length || (a[0] < b[0] ? -1 : 1);
    }
    return {
      name: "emoji",
      label: label || t("emoji_suggestions"),
      offered: "emoji_offered",
      // After a space or punctuation, not inside a word, a time (12:30) or an address.
      pattern: /(^|[^A-Za-z0-9_\/])(:([A-Za-z0-9_+-]{2,40}))$/,
      delay: 0,
      find: function (query) {
        query = query.toLowerCase();
        return load().then(function (all) {
          // Names that start so first, then names with a word that does; shortest first,
          // each emoji once.
          var first = [];
          var then = [];
          all.forEach(function (pair) {
            var at = pair[0].indexOf(query);
            if (at === 0) first.push(pair);
            else if (at > 0 && /[_-]/.test(pair[0].charAt(at - 1))) then.push(pair);
          });
          var seen = {};
          return first
            .sort(order)
            .concat(then.sort(order))
            .filter(function (pair) {
              if (seen[pair[1]]) return false;
              seen[pair[1]] = true;
              return true;
            })
            .slice(0, EMOJI_OFFERED);
        });
      },
      render: function (li, pair) {
        var glyph = document.createElement("span");
        glyph.className = "completion-emoji";
        glyph.textContent = pair[1];
        li.appendChild(glyph);
        li.appendChild(document.createTextNode(" :" + pair[0] + ":"));
      },
      text: function (pair) {
        return pair[1];
      },
    };
  }

  // --- "Quote": the selected words of a post (or all of it) at the cursor --------------------
  // `who` is "@name", or words that mention no one: a deleted account's label
  // (data-author-label) or "someone". forum/content.py's quote_markdown writes the same.
  function quoteMarkdown(who, postId, text) {
    var lines = text.replace(/\s+$/, "").split("\n").map(function (line) {
      return line ? "> " + line : ">";
    });
    return "> **" + who + "** [" + t("wrote") + "](/p/" + postId + "):\n>\n" + lines.join("\n") + "\n\n";
  }

  function selectedIn(article) {
    var selection = window.getSelection && window.getSelection();
    if (!selection || selection.isCollapsed || !selection.rangeCount) return "";
    var body = article.querySelector(".post-body");
    var range = selection.getRangeAt(0);
    if (!body || !body.contains(range.commonAncestorContainer)) return "";
    return selection.toString().trim();
  }

  function setupQuotes(box) {
    var remembered = null; // the selection, taken before a click on the link collapses it
    // Until the member has been in the text box, "the cursor" is the end of what it holds.
    var touched = false;
    box.addEventListener("focus", function () {
      touched = true;
    });
    function atCursor(text) {
      if (!touched) box.setSelectionRange(box.value.length, box.value.length);
      insertBlock(box, text);
    }
    document.addEventListener("mousedown", function (event) {
      var link = event.target.closest && event.target.closest("a[data-quote]");
      if (!link) return;
      var article = link.closest("article");
      remembered = article ? { link: link, text: selectedIn(article) } : null;
    });
    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("a[data-quote]");
      if (!link) return;
      event.preventDefault();
      var article = link.closest("article");
      var postId = link.getAttribute("data-quote");
      var text = article ? selectedIn(article) : "";
      if (!text && remembered && remembered.link === link) text = remembered.text;
      remembered = null;
      var replyTo = document.querySelector("#reply-form input[name=reply_to]");
      if (replyTo && !replyTo.value) replyTo.value = postId;
      if (text) {
        var author = article && article.getAttribute("data-author");
        var label = article && article.getAttribute("data-author-label");
        atCursor(quoteMarkdown(author ? "@" + author : label || t("someone"), postId, text));
        return;
      }
      fetch("/p/" + encodeURIComponent(postId) + "/quote", {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      })
        .then(function (response) {
          if (!response.ok) throw new Error("quote failed");
          return response.json();
        })
        .then(function (data) {
          atCursor(data.markdown);
        })
        .catch(function () {
          window.location.href = link.href;
        });
    });
  }

  var composers = document.querySelectorAll(".composer");
  for (var i = 0; i < composers.length; i++) {
    var composer = composers[i];
    var form = composer.closest("form");
    var box = composer.querySelector("textarea");
    if (!form || !box || typeof box.setRangeText !== "function") continue;
    var toolbar = composer.querySelector(".composer-toolbar");
    if (toolbar) setupToolbar(toolbar, box);
    setupPreview(composer, box);
    setupDrafts(composer, form, box);
    var mentions = composer.getAttribute("data-mentions-url");
    if (mentions) {
      setupCompletion(
        box,
        mentionCompletion(mentions, composer.getAttribute("data-mentions-label")),
      );
    }
    var emoji = composer.getAttribute("data-emoji-url");
    if (emoji) {
      setupCompletion(box, emojiCompletion(emoji, composer.getAttribute("data-emoji-label")));
    }
    if (form.id === "reply-form") setupQuotes(box);
  }
})();
