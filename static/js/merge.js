// The merge page's topic search as a combobox (ARIA 1.2: an input with a listbox popup). Typing
// asks the same page the plain search asks (GET ?q=) and offers its matches in the popup; arrow
// keys move, Enter or a click chooses, Escape closes. The chosen topic is ticked among the POST
// form's radio buttons, which are replaced by the same matches. Without this file the search is
// a plain form that shows the page again with the matches as radio buttons.
(function () {
  "use strict";

  var input = document.getElementById("merge-q");
  var list = document.getElementById("merge-options");
  var picks = document.getElementById("merge-picks");
  if (!input || !list || !picks || !window.fetch || !window.DOMParser) return;
  var searchForm = input.form;
  var liveRegion = document.getElementById("live-region");
  var timer = null;
  var active = -1;
  var latest = null; // the fetched page's picker, to put in place of the form's

  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("autocomplete", "off");

  function options() {
    return list.querySelectorAll('[role="option"]');
  }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(index) {
    var all = options();
    if (!all.length) return;
    active = (index + all.length) % all.length;
    all.forEach(function (option, i) {
      option.setAttribute("aria-selected", i === active ? "true" : "false");
    });
    input.setAttribute("aria-activedescendant", all[active].id);
    all[active].scrollIntoView({ block: "nearest" });
  }

  function choose(option) {
    if (latest) picks.replaceWith(latest);
    picks = latest || picks;
    latest = null;
    var radio = picks.querySelector('input[type="radio"][value="' + option.getAttribute("data-value") + '"]');
    if (radio) radio.checked = true;
    var kept = document.querySelector('form[method="post"] input[type="hidden"][name="q"]');
    if (kept) kept.value = input.value;
    close();
    if (liveRegion) liveRegion.textContent = option.textContent;
  }

  function show(doc) {
    latest = doc.getElementById("merge-picks");
    list.textContent = "";
    var radios = latest ? latest.querySelectorAll('input[type="radio"]') : [];
    radios.forEach(function (radio) {
      var option = document.createElement("li");
      option.setAttribute("role", "option");
      option.id = "merge-option-" + radio.value;
      option.setAttribute("data-value", radio.value);
      option.setAttribute("aria-selected", "false");
      option.textContent = radio.parentNode.textContent.replace(/\s+/g, " ").trim();
      list.appendChild(option);
    });
    var hint = latest && latest.querySelector(radios.length ? ".hint" : ".no-match");
    if (liveRegion && hint) liveRegion.textContent = hint.textContent;
    if (!radios.length) {
      close();
      return;
    }
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    active = -1;
  }

  function search() {
    var url = searchForm.getAttribute("action") + "?q=" + encodeURIComponent(input.value.trim());
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null) show(new DOMParser().parseFromString(html, "text/html"));
      })
      .catch(function () {});
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(search, 250);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (list.hidden) {
        search();
        return;
      }
      highlight(active + (event.key === "ArrowDown" ? 1 : -1));
    } else if (event.key === "Enter" && !list.hidden && active >= 0) {
      event.preventDefault();
      choose(options()[active]);
    } else if (event.key === "Escape" && !list.hidden) {
      event.preventDefault();
      close();
    }
  });
  list.addEventListener("mousedown", function (event) {
    event.preventDefault(); // keep focus in the input
  });
  list.addEventListener("click", function (event) {
    var option = event.target.closest('[role="option"]');
    if (option) choose(option);
  });
  input.addEventListener("blur", function () {
    window.setTimeout(close, 150);
  });
})();
