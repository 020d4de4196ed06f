// Reactions and bookmarks under posts, enhanced: the buttons are sent with fetch (the page stays
// where it is), the counts follow other members' reactions live (realtime.js passes the nudge;
// the counts come over HTTP), and who reacted shows on hover and focus. Without this file every
// button is a plain form and "Who reacted" a page of its own.
(function () {
  "use strict";

  if (!window.fetch) return;
  var t = window.forumI18n
    ? window.forumI18n.t
    : function (key) {
        return key;
      };
  var liveRegion = document.getElementById("live-region");
  var token = document.querySelector('meta[name="csrf-token"]');
  var cache = {}; // post id -> {at, data}
  var tip = null;

  function announce(text) {
    if (!liveRegion) return;
    liveRegion.textContent = "";
    window.setTimeout(function () {
      liveRegion.textContent = text;
    }, 50);
  }

  function whoUrl(postId) {
    return "/p/" + postId + "/reactions";
  }

  // The post's counts; a post without any yet (and no buttons for this reader: their own,
  // or a guest's page) gets an empty line for them, where the page would have drawn it.
  function barOf(postId) {
    var bar = document.querySelector('.reactions[data-post="' + postId + '"]');
    if (bar) return bar;
    var article = document.querySelector('article[data-post-id="' + postId + '"]');
    if (!article) return null;
    var tray = article.querySelector(".post-tray");
    if (!tray) {
      tray = document.createElement("div");
      tray.className = "post-tray";
      article.insertBefore(tray, article.querySelector(".post-actions"));
    }
    bar = document.createElement("span");
    bar.className = "reactions";
    bar.setAttribute("data-post", String(postId));
    var token = tray.querySelector('input[name="csrf_token"]');
    tray.insertBefore(bar, token ? token.nextSibling : tray.firstChild);
    return bar;
  }

  function fetchWho(bar, fresh) {
    var postId = bar.getAttribute("data-post");
    var known = cache[postId];
    if (!fresh && known && Date.now() - known.at < 10000) return Promise.resolve(known.data);
    return fetch(whoUrl(postId), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (data) {
        cache[postId] = { at: Date.now(), data: data };
        return data;
      });
  }

  // A count: a button of the form for a reader who may react, else a link to who reacted.
  function countButton(bar, asButton, emoji, count, mine) {
    var el = document.createElement(asButton ? "button" : "a");
    el.className = "reaction";
    if (asButton) {
      el.name = "emoji";
      el.value = emoji;
      el.setAttribute("aria-pressed", mine ? "true" : "false");
    } else {
      el.href = whoUrl(bar.getAttribute("data-post"));
    }
    el.appendChild(document.createTextNode(emoji + " "));
    var n = document.createElement("span");
    n.className = "count";
    n.textContent = String(count);
    el.appendChild(n);
    return el;
  }

  // Draw a post's counts from the server's answer (GET or POST /p/<id>/reactions|react).
  function render(bar, data) {
    var picker = bar.querySelector(".react-picker");
    var olds = bar.querySelectorAll(":scope > .reaction");
    for (var i = 0; i < olds.length; i++) olds[i].remove();
    data.counts.forEach(function (c) {
      if (!c.count) return;
      var el = countButton(bar, !!picker, c.emoji, c.count, c.emoji === data.mine);
      if (picker) bar.insertBefore(el, picker);
      else bar.appendChild(el);
    });
    if (!picker) return;
    var choices = picker.querySelectorAll("button[value]");
    for (var j = 0; j < choices.length; j++) {
      choices[j].setAttribute("aria-pressed", choices[j].value === data.mine ? "true" : "false");
    }
    var who = bar.querySelector(".who-reacted");
    if (data.total && !who) {
      who = document.createElement("a");
      who.className = "who-reacted";
      who.href = whoUrl(bar.getAttribute("data-post"));
      who.textContent = t("who_reacted");
      bar.appendChild(document.createTextNode(" "));
      bar.appendChild(who);
    } else if (!data.total && who) {
      who.remove();
    }
  }

  function send(url, form) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": token ? token.content : "" },
      body: new URLSearchParams(new FormData(form)),
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error((data.error && data.error.message) || response.status);
        return data;
      });
    });
  }

  // The tray under a post: a reaction button or "Bookmark", one request each, the answer
  // drawn, the change said to screen readers.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("post-tray")) return;
    var button = event.submitter;
    if (!button) return;
    if (button.name === "emoji") {
      event.preventDefault();
      var bar = form.querySelector(".reactions");
      var body = new FormData(form);
      body.set("emoji", button.value);
      fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": token ? token.content : "" },
        body: new URLSearchParams(body),
      })
        .then(function (response) {
          return response.json().then(function (data) {
            if (!response.ok) throw new Error((data.error && data.error.message) || response.status);
            return data;
          });
        })
        .then(function (data) {
          cache[form.getAttribute("data-post")] = { at: Date.now(), data: data };
          render(bar, data);
          var picker = bar.querySelector(".react-picker");
          if (picker && picker.open) {
            picker.open = false;
            picker.querySelector("summary").focus();
          }
          announce(data.mine ? t("reacted_with", { emoji: data.mine }) : t("reaction_taken_back"));
        })
        .catch(function (error) {
          announce(t("reaction_failed", { error: error.message }));
        });
    } else if (button.hasAttribute("formaction")) {
      event.preventDefault();
      var url = button.getAttribute("formaction");
      send(url, form)
        .then(function () {
          var link = document.createElement("a");
          link.className = "bookmark-link bookmarked";
          link.href = url;
          link.textContent = "★ " + t("bookmarked");
          button.replaceWith(link);
          link.focus();
          announce(t("bookmarked"));
        })
        .catch(function (error) {
          announce(t("reaction_failed", { error: error.message }));
        });
    }
  });

  // Live: another member reacted; the counts come over HTTP, as the reader may see them.
  document.addEventListener("forum:reactions-changed", function (event) {
    var bar = barOf(event.detail.post_id);
    if (!bar) return;
    fetchWho(bar, true)
      .then(function (data) {
        render(bar, data);
      })
      .catch(function () {});
  });

  // Who reacted: the names of those who chose this emoji, on hover and on keyboard focus.
  function hideTip() {
    if (!tip) return;
    var owner = document.querySelector('[aria-describedby="reaction-tip"]');
    if (owner) owner.removeAttribute("aria-describedby");
    tip.remove();
    tip = null;
  }

  function showTip(el) {
    var bar = el.closest(".reactions[data-post]");
    var emoji = el.value || (el.firstChild && el.firstChild.textContent.trim());
    if (!bar || !emoji || !el.querySelector(".count")) return;
    fetchWho(bar, false)
      .then(function (data) {
        var group = (data.groups || []).filter(function (g) {
          return g.emoji === emoji;
        })[0];
        if (!group || !group.names.length) return;
        if (document.activeElement !== el && !el.matches(":hover")) return;
        hideTip();
        var names = group.names.slice(0, 10).join(", ");
        var rest = group.count - Math.min(group.names.length, 10);
        if (rest > 0) names += " " + t("and_more", { num: rest });
        tip = document.createElement("div");
        tip.id = "reaction-tip";
        tip.className = "reaction-tip";
        tip.setAttribute("role", "tooltip");
        tip.textContent = t("who_reacted_with", { names: names, emoji: emoji });
        document.body.appendChild(tip);
        var box = el.getBoundingClientRect();
        var left = Math.max(8, Math.min(box.left + window.scrollX, window.scrollX + document.documentElement.clientWidth - tip.offsetWidth - 8));
        tip.style.left = left + "px";
        tip.style.top = box.bottom + window.scrollY + 4 + "px";
        el.setAttribute("aria-describedby", "reaction-tip");
      })
      .catch(function () {});
  }

  function reactionOf(target) {
    return target && target.closest ? target.closest(".reactions[data-post] > .reaction") : null;
  }

  document.addEventListener("mouseover", function (event) {
    var el = reactionOf(event.target);
    if (el) showTip(el);
  });
  document.addEventListener("mouseout", function (event) {
    var el = reactionOf(event.target);
    if (el && !el.contains(event.relatedTarget)) hideTip();
  });
  document.addEventListener("focusin", function (event) {
    var el = reactionOf(event.target);
    if (el) showTip(el);
  });
  document.addEventListener("focusout", function (event) {
    if (reactionOf(event.target)) hideTip();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") hideTip();
  });
})();
