// Files: uploads in the composer (drag and drop, paste, the file input) with their progress,
// and a lightbox for the pictures in posts. Progressive enhancement: without this file the
// composer's "Attach" button sends the files with the form, and a picture opens as itself.
(function () {
  "use strict";

  var t = window.forumI18n
    ? window.forumI18n.t
    : function (key) {
        return key;
      };

  function token() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // --- uploads ---------------------------------------------------------------------------------
  function insertAtCursor(box, text) {
    var start = box.selectionStart;
    var before = box.value.slice(0, start);
    var lead = before && !/\n\n$/.test(before) ? (/\n$/.test(before) ? "\n" : "\n\n") : "";
    box.focus();
    box.setRangeText(lead + text + "\n", start, box.selectionEnd, "end");
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function uploadOne(area, box, file) {
    var list = area.querySelector(".upload-progress");
    var item = document.createElement("li");
    var bar = document.createElement("progress");
    var label = document.createElement("span");
    bar.max = 100;
    bar.value = 0;
    label.textContent = t("uploading", { name: file.name });
    item.appendChild(label);
    item.appendChild(bar);
    if (list) list.appendChild(item);
    var data = new FormData();
    data.append("file", file, file.name || "pasted.png");
    data.append("sig", area.getAttribute("data-sig") || "");
    var request = new XMLHttpRequest();
    request.open("POST", area.getAttribute("data-upload-url"));
    request.setRequestHeader("X-CSRFToken", token());
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable) return;
      var percent = Math.round((event.loaded / event.total) * 100);
      bar.value = percent;
      
    });
    request.addEventListener("load", function () {
      var answer = null;
      try {
        answer = JSON.parse(request.responseText);
      } catch (e) {
        answer = null;
      }
      if (request.status === 200 && answer && answer.upload) {
        insertAtCursor(box, answer.upload.markdown);
        label.textContent = t("uploaded", { name: answer.upload.name });
        item.removeChild(bar);
      } else {
        var error = (answer && answer.error && answer.error.message) || String(request.status);
        label.textContent = t("upload_failed", { name: file.name, error: error });
        item.className = "error";
        item.removeChild(bar);
      }
    });
    request.addEventListener("error", function () {
      label.textContent = t("upload_failed", { name: file.name, error: "network" });
      item.className = "error";
    });
    request.send(data);
  }

  function setupUploads(area) {
    var composer = area.closest(".composer");
    var box = composer && composer.querySelector("textarea");
    var input = area.querySelector('input[type="file"]');
    var attach = area.querySelector('button[name="attach"]');
    if (!box || !input || !window.FormData || typeof box.setRangeText !== "function") return;
    function send(files) {
      for (var i = 0; i < files.length; i++) uploadOne(area, box, files[i]);
    }
    // Chosen files go at once; the input is emptied so the form does not send them again.
    input.addEventListener("change", function () {
      send(input.files);
      input.value = "";
    });
    if (attach) attach.hidden = true;
    // Dropping and pasting files work with this script only: said once it runs.
    var dropHint = area.querySelector(".drop-hint");
    if (dropHint) dropHint.hidden = false;
    box.addEventListener("dragover", function (event) {
      if (event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") >= 0) {
        event.preventDefault();
        box.classList.add("drop-target");
      }
    });
    box.addEventListener("dragleave", function () {
      box.classList.remove("drop-target");
    });
    box.addEventListener("drop", function (event) {
      box.classList.remove("drop-target");
      if (!event.dataTransfer || !event.dataTransfer.files.length) return;
      event.preventDefault();
      send(event.dataTransfer.files);
    });
    box.addEventListener("paste", function (event) {
      var files = event.clipboardData && event.clipboardData.files;
      if (!files || !files.length) return;
      event.preventDefault();
      send(files);
    });
  }

  var areas = document.querySelectorAll(".composer-files[data-upload-url]");
  for (var i = 0; i < areas.length; i++) setupUploads(areas[i]);

  // --- the lightbox ----------------------------------------------------------------------------
  // A picture in a post opens over the page: Escape or the button closes it, the arrow keys go
  // to the other pictures of the page, focus stays inside and goes back to the picture after.
  var dialog = null;
  var shown = -1;
  var opener = null;

  function links() {
    return Array.prototype.slice.call(document.querySelectorAll(".post-body a.lightbox"));
  }

  function build() {
    dialog = document.createElement("dialog");
    dialog.className = "lightbox-dialog";
    dialog.setAttribute("aria-label", t("lightbox"));
    dialog.innerHTML =
      '<figure><img alt=""><figcaption></figcaption></figure>' +
      '<div class="lightbox-buttons"><button type="button" data-go="-1"></button>' +
      '<button type="button" data-go="1"></button><button type="button" data-close></button></div>';
    dialog.querySelector("[data-go='-1']").textContent = "‹ " + t("previous");
    dialog.querySelector("[data-go='1']").textContent = t("next") + " ›";
    dialog.querySelector("[data-close]").textContent = t("close");
    dialog.addEventListener("click", function (event) {
      var go = event.target.getAttribute && event.target.getAttribute("data-go");
      if (go) show(shown + Number(go));
      else if (event.target.hasAttribute && event.target.hasAttribute("data-close")) close();
      else if (event.target === dialog) close();
    });
    dialog.addEventListener("keydown", function (event) {
      if (event.key === "ArrowRight") show(shown + 1);
      else if (event.key === "ArrowLeft") show(shown - 1);
    });
    dialog.addEventListener("close", function () {
      if (opener) opener.focus();
    });
    document.body.appendChild(dialog);
  }

  function show(index) {
    var all = links();
    if (!all.length) return;
    shown = (index + all.length) % all.length;
    var link = all[shown];
    var image = link.querySelector("img");
    var big = dialog.querySelector("img");
    big.src = link.getAttribute("href");
    big.alt = image ? image.alt : "";
    dialog.querySelector("figcaption").textContent = image ? image.alt : "";
    var several = all.length > 1;
    dialog.querySelector("[data-go='-1']").hidden = !several;
    dialog.querySelector("[data-go='1']").hidden = !several;
  }

  function close() {
    if (dialog && dialog.open) dialog.close();
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".post-body a.lightbox");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (!window.HTMLDialogElement) return; // the picture opens as itself
    event.preventDefault();
    if (!dialog) build();
    opener = link;
    show(links().indexOf(link));
    dialog.showModal();
    dialog.querySelector("[data-close]").focus();
  });
})();
