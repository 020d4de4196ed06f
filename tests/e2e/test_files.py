"""Files in Chromium: a photo chosen in the composer is uploaded by the script (with its
progress), its Markdown lands in the text, the reply shows it re-encoded without its GPS, and
the lightbox opens with a click and closes with Escape, focus back on the picture."""

from __future__ import annotations

import io
import re

import pytest

from .helpers import assert_accessible, expect

pytestmark = pytest.mark.e2e


def _photo_with_gps() -> bytes:
    from PIL import Image

    image = Image.new("RGB", (1600, 1200), "teal")
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 31.0, 12.5)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_a_photo_in_a_reply_shows_without_its_gps_and_opens_in_a_lightbox(open_browser, tmp_path):
    from PIL import Image

    photo = tmp_path / "antenna.jpg"
    photo.write_bytes(_photo_with_gps())
    page = open_browser("ada")
    page.goto("/s/retro/")
    page.locator("a.topic-title").first.click()
    expect(page.get_by_role("toolbar", name="Formatting")).to_be_visible()
    box = page.get_by_label("Your reply")
    box.fill("My new antenna:")
    page.get_by_label("Attach files").set_input_files(str(photo))
    expect(box).to_have_value(
        re.compile(r"^My new antenna:\n\n!\[antenna\.jpg\]\(/files/[0-9a-f]{64}/antenna\.jpg\)\n$")
    )
    expect(page.locator(".upload-progress")).to_contain_text("antenna.jpg added")
    page.get_by_role("button", name="Post reply").click()
    picture = page.locator("article.post .post-body img[alt='antenna.jpg']").last
    expect(picture).to_be_visible()
    assert picture.get_attribute("width") == "1024" and picture.get_attribute("height") == "768"
    link = picture.locator("xpath=..")
    full = page.request.get(link.get_attribute("href"))
    assert full.ok and full.headers["content-type"] == "image/jpeg"
    assert b"SpyCam" not in full.body()
    kept = Image.open(io.BytesIO(full.body()))
    assert kept.size == (1600, 1200) and not kept.getexif()
    assert_accessible(page)

    picture.click()
    dialog = page.get_by_role("dialog", name="Picture")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(link).to_be_focused()


DROP = """([kind, name, text]) => {
  const box = document.querySelector("#reply-form textarea");
  const data = new DataTransfer();
  data.items.add(new File([text], name, { type: "text/plain" }));
  const event = kind === "drop"
    ? new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true })
    : new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true });
  box.dispatchEvent(event);
}"""


def test_files_dropped_or_pasted_into_the_text_are_attached(open_browser):
    page = open_browser("ada")
    page.goto("/s/retro/")
    page.locator("a.topic-title").first.click()
    expect(page.get_by_role("toolbar", name="Formatting")).to_be_visible()
    expect(page.get_by_text("You can also drag files into the text or paste them.")).to_be_visible()
    box = page.get_by_label("Your reply")
    box.fill("Notes:")
    page.evaluate(DROP, ["drop", "dropped.txt", "band = 2m\n"])
    expect(box).to_have_value(re.compile(r"\[dropped\.txt\]\(/files/[0-9a-f]{64}/dropped\.txt\)"))
    page.evaluate(DROP, ["paste", "pasted.txt", "band = 70cm\n"])
    expect(box).to_have_value(re.compile(r"\[pasted\.txt\]\(/files/[0-9a-f]{64}/pasted\.txt\)"))
    page.get_by_role("button", name="Post reply").click()
    listed = page.locator("article.post").last.locator(".attachments")
    expect(listed).to_contain_text("dropped.txt")
    expect(listed).to_contain_text("pasted.txt")
