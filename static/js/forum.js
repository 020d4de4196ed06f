// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // Ask before destructive actions (forms marked data-confirm).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // "Quote" adds the quoted post to the reply box on this page instead of opening a new page;
  // it never replaces what the member already typed.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-quote]");
    var box = document.querySelector("#reply-form textarea");
    if (!link || !box) return;
    event.preventDefault();
    fetch("/p/" + encodeURIComponent(link.getAttribute("data-quote")) + "/quote", {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        if (!response.ok) throw new Error("quote failed");
        return response.json();
      })
      .then(function (data) {
        var before = box.value && !/\n\n$/.test(box.value) ? box.value + "\n\n" : box.value;
        box.value = before + data.markdown;
        var replyTo = document.querySelector("#reply-form input[name=reply_to]");
        if (replyTo && !replyTo.value) replyTo.value = link.getAttribute("data-quote");
        box.focus();
        box.setSelectionRange(box.value.length, box.value.length);
      })
      .catch(function () {
        window.location.href = link.href;
      });
  });
})();
