// Live updates over Socket.IO: the notification badge, "N new replies — show" on an open topic,
// and who's online. Progressive enhancement: every page is complete without this file.
// The server sends ids and counts; content is fetched over HTTP, where permissions apply again.
(function () {
  "use strict";

  if (typeof window.io !== "function") return;

  var body = document.body;
  var topicId = Number(body.getAttribute("data-topic")) || null;
  var sigId = Number(body.getAttribute("data-sig")) || null;
  var page = Number(body.getAttribute("data-page")) || 1;
  var pages = Number(body.getAttribute("data-pages")) || 1;
  var online = document.getElementById("online");
  var liveRegion = document.getElementById("live-region");
  var pending = []; // post_created payloads not shown yet, in order
  var ended = false;

  var t = window.forumI18n
    ? window.forumI18n.t
    : function (key) {
        return key;
      };

  function announce(text) {
    if (!liveRegion) return;
    // Clear first so screen readers announce the same text twice in a row too.
    liveRegion.textContent = "";
    window.setTimeout(function () {
      liveRegion.textContent = text;
    }, 50);
  }

  function setBadge(count, linkId) {
    var link = document.getElementById(linkId || "notifications-link");
    if (!link) return;
    var badge = link.querySelector(".badge");
    if (!badge) {
      badge = document.createElement("span");
      badge.className = "badge";
      link.appendChild(document.createTextNode(" "));
      link.appendChild(badge);
    }
    badge.textContent = String(count);
    badge.setAttribute("data-count", String(count));
    badge.classList.toggle("badge-zero", !count);
    setMenuBadge();
    if (linkId) return;
    var counter = document.getElementById("notifications-unread");
    if (counter) counter.textContent = String(count);
  }

  // The phone header's "Menu" button: a dot while anything waits behind it (the links marked
  // data-alert: notifications, mail, the mod queue).
  function setMenuBadge() {
    var dot = document.getElementById("menu-badge");
    if (!dot) return;
    var waiting = false;
    var badges = document.querySelectorAll(".main-nav a[data-alert] .badge");
    for (var i = 0; i < badges.length; i++) {
      if (Number(badges[i].getAttribute("data-count")) > 0) waiting = true;
    }
    dot.hidden = !waiting;
  }

  function highestShown() {
    var posts = document.querySelectorAll("#posts article[data-number]");
    var highest = 0;
    for (var i = 0; i < posts.length; i++) {
      highest = Math.max(highest, Number(posts[i].getAttribute("data-number")) || 0);
    }
    return highest;
  }

  function showBanner() {
    var box = document.getElementById("new-replies");
    if (!box || !pending.length) return;
    var n = pending.length;
    box.textContent = "";
    var text = document.createTextNode(t("new_replies", { num: n }) + " — ");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "link-button";
    button.textContent = t("show");
    button.addEventListener("click", showNewPosts);
    box.appendChild(text);
    box.appendChild(button);
    box.hidden = false;
  }

  // Insert the new posts after the last one shown. The reply form is elsewhere on the page and
  // is never touched, so whatever the member is typing stays where it is.
  function showNewPosts() {
    var box = document.getElementById("new-replies");
    var first = pending[0];
    if (!first) return;
    if (page < pages) {
      window.location.href = "/p/" + first.post_id;
      return;
    }
    fetch("/t/" + topicId + "?page=" + page, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    })
      .then(function (response) {
        if (!response.ok) throw new Error("could not load the new posts");
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var container = document.getElementById("posts");
        var shown = highestShown();
        var fresh = doc.querySelectorAll("#posts article[data-number]");
        var added = 0;
        for (var i = 0; i < fresh.length; i++) {
          if (Number(fresh[i].getAttribute("data-number")) > shown) {
            container.appendChild(document.adoptNode(fresh[i]));
            added++;
          }
        }
        var newPages = Number(doc.body.getAttribute("data-pages")) || pages;
        pending = pending.filter(function (p) {
          return p.post_number > highestShown();
        });
        if (newPages > pages && pending.length) {
          pages = newPages; // the rest is on the next page: the banner links there
        }
        if (!pending.length) {
          box.hidden = true;
          box.textContent = "";
        } else {
          showBanner();
        }
        if (added) announce(t("replies_shown", { num: added }));
      })
      .catch(function () {
        window.location.href = "/p/" + first.post_id;
      });
  }

  function renderOnline(data) {
    if (!online) return;
    var names = online.querySelector(".online-names");
    var guests = online.querySelector(".online-guests");
    if (names) {
      names.textContent = "";
      if (!data.names.length) names.textContent = t("no_members");
      data.names.forEach(function (name, i) {
        var a = document.createElement("a");
        a.href = "/u/" + encodeURIComponent(name);
        a.textContent = name;
        if (i) names.appendChild(document.createTextNode(", "));
        names.appendChild(a);
      });
    }
    if (guests) {
      guests.textContent = data.guests ? " " + t("and_guests", { num: data.guests }) : "";
    }
  }

  var socket = window.io({ reconnectionDelayMax: 10000 });

  function subscribe(data) {
    socket.emit("subscribe", data, function (answer) {
      if (answer && answer.ok === false && /session/i.test(answer.error || "")) {
        ended = true;
        socket.disconnect();
      }
    });
  }

  // Rooms live on the server process: after a reconnect (a server restart, a network blip)
  // join them again.
  var connectedBefore = false;
  socket.on("connect", function () {
    if (ended) return;
    // A waiting sysop page (/care/pages/<id>) may have been taken or have expired while the
    // socket was away, and nothing tells it again: the page asks the server afresh.
    if (connectedBefore && !leaving && body.getAttribute("data-care-waiting")) {
      window.location.reload();
      return;
    }
    connectedBefore = true;
    if (topicId) subscribe({ topic_id: topicId });
    if (online && online.getAttribute("data-presence-sig")) {
      subscribe({ sig_id: Number(online.getAttribute("data-presence-sig")) });
    } else if (online) {
      subscribe({ presence: "site" });
    } else if (sigId && !topicId) {
      subscribe({ sig_id: sigId });
    }
    // A sysop page (/care/pages/<id>): told when it is taken or expires, whoever opened it.
    if (body.getAttribute("data-care-page")) {
      subscribe({ care_page: Number(body.getAttribute("data-care-page")) });
    }
  });

  // A page, and the end of one, reach a member twice: as a notification and as member care's
  // banner (the "care" event below), each for the same address (the page's, or the concern it
  // became). The banner, an assertive alert with the member's words, speaks; its notification
  // only updates the badge. The notification usually comes a moment first (the server sends it
  // first): it waits briefly for its banner, and speaks after all if none comes (a page taken
  // meanwhile rings no more).
  var CARE_WAIT_MS = 2000;
  // Each banner pairs with one notification, the one that comes within twice CARE_WAIT_MS: a
  // later notification of the same address (another message in that concern) speaks again.
  var bannered = {}; // address -> when a banner spoke of it and no notification came yet
  var waitingNotes = {}; // address -> timer of a notification waiting for its banner

  function pathOf(url) {
    try {
      return new URL(url, window.location.href).pathname;
    } catch (e) {
      return "";
    }
  }

  function bannerSpoke(url) {
    var path = pathOf(url);
    if (waitingNotes[path]) {
      // Its notification came first and waits: the pair is complete, the banner spoke.
      window.clearTimeout(waitingNotes[path]);
      delete waitingNotes[path];
      return;
    }
    bannered[path] = Date.now();
  }

  // A new post in the topic on screen that notifies the member (a mention, a quote, a reply, a
  // post in a watched topic) reaches them twice: as the topic's own "N new replies — show" line
  // ("post_created" below) and as a notification naming that post and its topic (the server
  // names them only to a member who may read the post). The line speaks; the notification only
  // updates the badge. The two may come in either order: a notification waits briefly for its
  // post's line, and speaks after all if none comes (a socket that could not join the room).
  var REPLY_WAIT_MS = 2000;
  var toldPosts = {}; // post id -> true: this topic's line knows of it
  var waitingReplies = {}; // post id -> timer of a notification waiting for its line

  function postTold(postId) {
    toldPosts[postId] = true;
    if (waitingReplies[postId]) {
      window.clearTimeout(waitingReplies[postId]);
      delete waitingReplies[postId];
    }
  }

  socket.on("notification", function (data) {
    setBadge(data.unread_count);
    // The server wrote the text in the member's language (forum.notifications.kinds).
    var text = t("new_notification", { text: data.text || data.excerpt || t("notification") });
    if (topicId && data.topic_id === topicId && data.post_id) {
      var postId = data.post_id;
      if (toldPosts[postId] || waitingReplies[postId]) return;
      waitingReplies[postId] = window.setTimeout(function () {
        delete waitingReplies[postId];
        announce(text);
      }, REPLY_WAIT_MS);
      return;
    }
    var path = pathOf(data.url);
    // On the conversation a private message arrived in, the line that offers to show it
    // ("mail-live", below) speaks of it; its notification only counts in the badge.
    var conversation = document.getElementById("messages");
    if (conversation && path === "/mail/c/" + conversation.getAttribute("data-conversation-id")) {
      return;
    }
    if (path.indexOf("/care/") !== 0) {
      announce(text);
      return;
    }
    var spoke = bannered[path];
    delete bannered[path];
    if (spoke && Date.now() - spoke < 2 * CARE_WAIT_MS) return; // its banner spoke already
    if (waitingNotes[path]) return;
    waitingNotes[path] = window.setTimeout(function () {
      delete waitingNotes[path];
      announce(text);
    }, CARE_WAIT_MS);
  });

  // Private mail: the "Mail" badge, and on the conversation it arrived in, a line offering to
  // show it (the page is fetched over HTTP, where only participants read it).
  socket.on("mail", function (data) {
    setBadge(data.unread_count, "mail-link");
    var messages = document.getElementById("messages");
    var notice = document.getElementById("mail-live");
    if (
      data.conversation_id &&
      messages &&
      notice &&
      Number(messages.getAttribute("data-conversation-id")) === data.conversation_id
    ) {
      notice.hidden = false;
      announce(notice.textContent);
    }
  });

  socket.on("notification_count", function (data) {
    setBadge(data.unread_count);
  });

  // Tracked topics with unread posts: a count only, never announced (that is what tracking
  // means; watching sends a notification for each post).
  socket.on("tracked_count", function (data) {
    setBadge(data.count, "tracked-link");
  });

  socket.on("post_created", function (data) {
    // A post whose number is below the last one shown (approved after later ones) gets no
    // line: its notification, if any, speaks for it.
    if (data.topic_id !== topicId || data.post_number <= highestShown()) return;
    postTold(data.post_id);
    for (var i = 0; i < pending.length; i++) {
      if (pending[i].post_id === data.post_id) return;
    }
    pending.push(data);
    showBanner();
  });

  // A post's reactions changed: static/js/reactions.js fetches its counts over HTTP.
  socket.on("reactions_changed", function (data) {
    if (data.topic_id !== topicId) return;
    document.dispatchEvent(new CustomEvent("forum:reactions-changed", { detail: data }));
  });

  // Member care (forum.care): a page ringing for a sysop on duty, a page answered, a concern
  // that moved. Pages ring only for the sysops the server chose; the sound only if the sysop
  // allowed it; the text is announced in an assertive live region as well as shown (and its
  // notification, for the same address, is not: see the "notification" handler above).
  var careAlert = null;
  var leaving = false; // on the way to the concern a waiting page became
  // A form sent from the page (the sysop's own "Take it") is already leaving it: a reload for
  // the page's "page_gone", which the sysop who took it hears too, would cancel that.
  document.addEventListener("submit", function (event) {
    if (!event.defaultPrevented) leaving = true;
  });

  function careBanner(text, url, pageId) {
    if (!careAlert) {
      careAlert = document.createElement("div");
      careAlert.id = "care-alert";
      careAlert.className = "notice care-alert";
      careAlert.setAttribute("role", "alert");
      var main = document.querySelector("main") || body;
      main.insertBefore(careAlert, main.firstChild);
    }
    careAlert.textContent = "";
    careAlert.setAttribute("data-page", pageId ? String(pageId) : "");
    var link = document.createElement("a");
    link.href = url;
    link.textContent = text;
    careAlert.appendChild(link);
  }

  function ring() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try {
      var context = new Context();
      var tone = context.createOscillator();
      var gain = context.createGain();
      tone.frequency.value = 880;
      gain.gain.value = 0.1;
      tone.connect(gain);
      gain.connect(context.destination);
      tone.start();
      tone.stop(context.currentTime + 0.4);
    } catch (e) {
      // A browser that will not play before the page was touched: the text is enough.
    }
  }

  socket.on("care", function (data) {
    if (data.type === "page") {
      bannerSpoke(data.url);
      careBanner(data.text, data.url, data.page_id);
      if (data.sound) ring();
    } else if (data.type === "page_gone") {
      if (careAlert && careAlert.getAttribute("data-page") === String(data.page_id)) {
        careAlert.remove();
        careAlert = null;
      }
      // Whoever has the page itself open (a sysop on duty or not, the member): its "Take it"
      // is gone, so the page says who took it (or which concern it became) rather than
      // offering a button that fails.
      if (!leaving && Number(body.getAttribute("data-care-page")) === data.page_id) {
        window.location.reload();
      }
    } else if (data.type === "page_answered") {
      var waiting = Number(body.getAttribute("data-care-page")) === data.page_id;
      if (waiting && data.taken) {
        leaving = true;
        window.location.href = data.url;
        return;
      }
      bannerSpoke(data.url);
      careBanner(data.text, data.url, null);
    } else if (data.type === "concern") {
      var list = document.getElementById("care-messages");
      if (!list || Number(list.getAttribute("data-concern-id")) !== data.concern_id) return;
      // The concern's own page says what is new ("care-live" below); the notification of the
      // same message, for this address, only counts in the badge.
      bannerSpoke("/care/" + data.concern_id);
      // The concern's page itself (where the policy is asked again); its messages replace ours.
      fetch("/care/" + data.concern_id, { credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          return response.text();
        })
        .then(function (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.querySelector("#care-messages");
          if (fresh) list.replaceWith(fresh);
          var notice = document.getElementById("care-live");
          announce(notice ? notice.firstChild.textContent : "");
        })
        .catch(function () {
          var notice = document.getElementById("care-live");
          if (notice) notice.hidden = false;
        });
    }
  });

  socket.on("presence", function (data) {
    if (!online) return;
    var sig = online.getAttribute("data-presence-sig");
    var scope = sig ? "sig:" + sig : "site";
    if (data.scope === scope) renderOnline(data);
  });
})();
