"""A shop's ratings on a 1-10 scale, in MovieLens-100K format, uploaded through the admin's import form as "items":
every member page reads in item words and on the shop's own scale (found walking such a shop: "a film you rated 1.5
stars or lower", "you rated it 4 stars" for a 4 of 10, a 0.5-5 rating input)."""

import re

import pytest
from playwright.sync_api import expect

from recourse.services import context
from recsys import jobs
from recsys.models import Dataset, InteractionSequence, Job
from recsys.services import serving
from tests.helpers import write_ml100k_folder
from tests.web.conftest import train_now

from .conftest import FIRST_LOAD_MS, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOT_THIS_SHOP = re.compile(r"\bfilms?\b|\bwatched\b|\bstars?\b|\b1\.5\b|\b2\.5\b", re.IGNORECASE)
MEMBER = "1"  # the shop's customer whose history the member owns: 8 products rated 2, 5, 8, 1, 4, 7, 10, 3


def write_shop(folder) -> list:
    """26 customers, 8 products each out of 30, rated 1 to 10."""
    return write_ml100k_folder(folder, title=lambda i: f"Brand {i % 4} product #{i}",
                               rating=lambda user, k: (user + 3 * k) % 10 + 1)


def member_text(page, path: str) -> str:
    page.goto(path, timeout=FIRST_LOAD_MS)
    page.evaluate("document.querySelectorAll('details').forEach(details => details.open = true)")
    text = page.locator("main").inner_text()
    found = NOT_THIS_SHOP.search(text)
    assert not found, (path, text[max(0, found.start() - 120):found.end() + 40])
    return text


def test_a_shop_uploaded_as_items_reads_in_item_words_on_its_own_rating_scale(
        browser_page, live_server, django_user_model, make_user, tmp_path):
    page = browser_page
    root = django_user_model.objects.create_superuser("root", "root@example.org", "pw-long-enough")
    sign_in(page, root, live_server.url)
    page.goto("/admin/recsys/dataset/import/")
    page.fill("#id_name", "shop")
    page.select_option("#id_format", "ml-100k")
    page.select_option("#id_item_kind", "items")
    page.set_input_files("#id_files", [str(path) for path in write_shop(tmp_path / "shop")])
    page.get_by_role("button", name="Start import").click()
    expect(page.locator(".messagelist")).to_contain_text("Import of shop queued")
    jobs.run(Job.objects.get(kind="import_dataset").pk)
    dataset = Dataset.objects.get(name="shop")
    assert (dataset.item_kind, dataset.rating_low, dataset.rating_high) == ("items", 1, 10)

    member = make_user("mona")
    InteractionSequence.objects.filter(dataset=dataset, external_user_id=MEMBER).update(user=member)
    model = train_now(dataset)
    context.calibrate_all(model, serving.loaded_model(dataset)[1])
    sign_in(page, member, live_server.url)

    home = member_text(page, "/home/")
    assert "on this dataset's scale of 1 to 10, an item you rated 3 or lower is not used" in home
    assert home.count("Not used (your rating)") == 3  # 1, 2 and 3 of 10 (on five stars no rating above 1.5 is)
    for_you = member_text(page, "/for-you/")
    assert "Because you picked" in for_you or "Based on many of your items together" in for_you
    page.locator("a[href^='/why/']").first.click()
    why = member_text(page, page.url.removeprefix(live_server.url))
    # 3 of the 8 rated 3 or lower of 10 (the ledger says so since the ratings policy's count was added to it)
    assert ("which items are in your history and their order (all 8 that the model knows; your ratings keep 3 of "
            "them from counting)") in why
    drift = member_text(page, "/drift/")
    assert "titles you rated 8 or more are never suggested for removal" in drift
    screenshot(page, "shop-1-to-10-drift")
    fix = member_text(page, "/fix/")
    assert "Titles you rated 5 or lower count as evidence" in fix
    page.locator("select[id^=action-]").first.select_option("remove")
    expect(page.locator("#live-preview")).to_contain_text("top 10")
    catalogue = member_text(page, "/catalogue/")
    assert "Add" in catalogue
    rating = page.locator("input[name=rating]").first
    assert (rating.get_attribute("min"), rating.get_attribute("max"), rating.get_attribute("step")) == ("1", "10", "1")
    screenshot(page, "shop-1-to-10-catalogue")
