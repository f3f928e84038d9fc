import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from recsys.models import Dataset, Interaction, InteractionSequence, Item
from recsys.services.imports import DatasetImportError, import_dataset, import_dataset_reported

from . import conftest_data as data

pytestmark = pytest.mark.django_db


def counts():
    return (
        Dataset.objects.count(),
        Item.objects.count(),
        InteractionSequence.objects.count(),
        Interaction.objects.count(),
    )


def chronological_items(dataset, user):
    rows = Interaction.objects.filter(sequence__dataset=dataset, sequence__external_user_id=user)
    return [r.item.external_id for r in rows.order_by(*Interaction.CHRONOLOGICAL)]


def test_ml100k(tmp_path):
    dataset = import_dataset(name="ml100k", path=data.write_ml100k(tmp_path / "ml"))
    assert (dataset.n_users, dataset.n_items, dataset.n_interactions) == (2, 3, 4)
    toy = Item.objects.get(dataset=dataset, external_id="1")
    assert toy.title == "Toy Story (1995)" and toy.year == 1995
    assert toy.category_list == ["Animation", "Children's", "Comedy"]
    assert Item.objects.get(external_id="3").title == "Les Misérables (1995)"
    # Tie at 888550871: file order decides.
    assert chronological_items(dataset, "2") == ["1", "3"]


def test_ml1m(tmp_path):
    dataset = import_dataset(name="ml1m", path=data.write_ml1m(tmp_path / "ml1m"), format="ml-1m")
    assert (dataset.n_users, dataset.n_interactions) == (2, 3)
    assert Item.objects.get(external_id="3").title == "Misérables, Les (1995)"
    assert InteractionSequence.objects.get(external_user_id="1").attributes["gender"] == "F"
    assert chronological_items(dataset, "1") == ["1193", "661"]


def test_ml_latest(tmp_path):
    dataset = import_dataset(name="latest", path=data.write_ml_latest(tmp_path / "latest"))
    assert dataset.n_interactions == 3 and dataset.source_format == "ml-latest"
    assert Item.objects.get(external_id="3").title == "American President, The (1995)"
    assert Item.objects.get(external_id="4").categories == ""


def test_recbole(tmp_path):
    dataset = import_dataset(name="rb", path=data.write_recbole(tmp_path / "rb"))
    assert dataset.n_interactions == 3 and dataset.source_format == "recbole"
    assert Item.objects.get(external_id="10").title == "Heat"


def test_sasrec_lines_get_ordinal_timestamps(tmp_path):
    dataset = import_dataset(name="sas", path=data.write_sasrec(tmp_path), format="sasrec")
    assert not dataset.has_timestamps and not dataset.has_categories
    assert chronological_items(dataset, "2") == ["2", "1"]


def test_generic_csv(tmp_path):
    dataset = import_dataset(name="csv", path=data.write_generic_csv(tmp_path))
    assert Item.objects.get(external_id="i1").category_list == ["Action", "Comedy"]
    assert chronological_items(dataset, "u1") == ["i1", "i2", "i3"]


def test_reimport_adds_no_duplicates(tmp_path):
    path = data.write_ml100k(tmp_path / "ml")
    import_dataset(name="ml100k", path=path)
    before = counts()
    import_dataset(name="ml100k", path=path)
    assert counts() == before


def test_files_without_timestamps_are_refused_by_a_dataset_with_them_and_change_nothing(tmp_path):
    import_dataset(name="log", path=data.write_generic_csv(tmp_path))
    before = counts()
    plain = tmp_path / "plain.csv"
    plain.write_text("user,item\nu1,i9\nu3,i1\n")
    with pytest.raises(DatasetImportError, match="log already holds 6 interactions with timestamps, and these files "
                                                 "have none: import them under a new name"):
        import_dataset(name="log", path=plain)
    assert counts() == before and Dataset.objects.get(name="log").has_timestamps


@pytest.mark.parametrize(
    "content, expected",
    [
        ("1\t1\t5\n", "line 1"),  # truncated line
        ("1\t1\t5\t874965758\nx\t2\t3\t876893171\n", "line 2"),  # non-numeric id
        ("1,1,5,874965758\n", "u.data"),  # wrong separator
    ],
)
def test_bad_input_names_file_and_line_and_changes_nothing(tmp_path, content, expected):
    import_dataset(name="existing", path=data.write_generic_csv(tmp_path))
    before = counts()
    folder = data.write_ml100k(tmp_path / "ml")
    (folder / "u.data").write_text(content)
    with pytest.raises(DatasetImportError, match=expected):
        import_dataset(name="ml100k", path=folder, format="ml-100k")
    assert counts() == before


def test_bad_encoding_is_reported(tmp_path):
    folder = data.write_recbole(tmp_path / "rb")
    (folder / "tiny.inter").write_bytes(b"user_id:token\titem_id:token\ttimestamp:float\n\xff\xfe1\t10\t100\n")
    with pytest.raises(DatasetImportError, match="tiny.inter"):
        import_dataset(name="rb", path=folder)
    assert counts() == (0, 0, 0, 0)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(DatasetImportError, match="nothing-here"):
        import_dataset(name="x", path=tmp_path / "nothing-here")


def test_management_command_reports_errors(tmp_path):
    with pytest.raises(CommandError, match="nothing-here"):
        call_command("import_dataset", "x", str(tmp_path / "nothing-here"))
    call_command("import_dataset", "csv", str(data.write_generic_csv(tmp_path)))
    assert Dataset.objects.get(name="csv").n_interactions == 6


def test_the_command_says_how_many_interactions_a_second_import_added(tmp_path, capsys):
    call_command("import_dataset", "csv", str(data.write_generic_csv(tmp_path)))
    call_command("import_dataset", "csv", str(data.write_generic_csv(tmp_path)))
    assert capsys.readouterr().out.splitlines()[-1] == (
        "csv: 2 users, 3 items, 6 interactions (0 new; rows already imported are kept once)")


OVERSIZED_CSV = "user,item,timestamp,rating,title\nu1,i1,1,4,Alpha\nu1,i2,2,5," + "x" * 200_000 + "\n"


def test_the_command_names_the_file_and_line_of_an_oversized_field(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(OVERSIZED_CSV)
    with pytest.raises(CommandError, match=r"^mine.csv line 3: a field starting on this line is longer than"):
        call_command("import_dataset", "x", str(path))
    assert counts() == (0, 0, 0, 0)


def _upload_through_the_admin(client, django_user_model, name, content, format="", more=None):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from recsys import jobs
    from recsys.models import Job

    client.force_login(django_user_model.objects.create_superuser("root", "root@example.org", "pw-long-enough"))
    files = {name: content, **(more or {})}
    response = client.post(reverse("admin:recsys_dataset_import"), {
        "name": "mine", "format": format,
        "files": [SimpleUploadedFile(file_name, text.encode()) for file_name, text in files.items()]})
    assert response.status_code == 302
    job = Job.objects.get(kind="import_dataset")
    jobs.run(job.pk)
    job.refresh_from_db()
    return job


def test_an_admin_upload_error_names_the_uploaded_file_and_line(client, django_user_model):
    job = _upload_through_the_admin(client, django_user_model, "mine.csv", OVERSIZED_CSV)
    assert job.status == "failed"
    assert job.message.startswith("mine.csv line 3: a field starting on this line")


def test_a_refused_file_is_one_sentence_on_the_jobs_page_not_a_traceback(client, django_user_model):
    job = _upload_through_the_admin(client, django_user_model, "mine.csv", "user,item\nu1,i1\nu2,\n")
    assert (job.status, job.message, job.error) == ("failed", "mine.csv line 3: item id is empty", "")
    page = client.get(reverse("recsys:jobs")).content.decode()
    assert "mine.csv line 3: item id is empty" in page
    assert "Traceback" not in page and "DatasetImportError" not in page and "Error details" not in page


def test_an_admin_upload_in_no_known_format_names_the_uploaded_file(client, django_user_model):
    job = _upload_through_the_admin(client, django_user_model, "notes.bin", "hello\n")
    assert job.status == "failed"
    assert "notes.bin" in job.message and "uploads" not in job.message
    [stored] = job.params["uploads"]
    assert stored.split("/")[1] not in job.message  # not the upload folder's random name


CSV_WITH_EMPTY_RATINGS = "user,item,timestamp,rating\nu1,i1,100,4\nu1,i2,110,\nu2,i1,120,\nu2,i2,130,5\n"


def test_a_row_with_an_empty_rating_imports_without_a_rating_and_the_report_counts_it(tmp_path, capsys):
    path = tmp_path / "log.csv"
    path.write_text(CSV_WITH_EMPTY_RATINGS)
    call_command("import_dataset", "log", str(path))
    dataset = Dataset.objects.get(name="log")
    ratings = Interaction.objects.filter(sequence__dataset=dataset).order_by("sequence__external_user_id", "position")
    assert [row.rating for row in ratings] == [4.0, None, None, 5.0]
    assert "4 rows read; 2 had no rating and were imported without one" in capsys.readouterr().out


def test_an_uploaded_file_with_empty_ratings_says_so_on_the_jobs_page(client, django_user_model):
    job = _upload_through_the_admin(client, django_user_model, "log.csv", CSV_WITH_EMPTY_RATINGS)
    assert job.status == "succeeded"
    assert job.result["rows_without_rating"] == 2 and job.result["interactions"] == 4
    assert job.message == "Done: 4 rows read; 2 had no rating and were imported without one"
    assert "2 had no rating" in client.get(reverse("recsys:jobs")).content.decode()


def test_a_bad_rating_after_empty_ones_still_fails_the_whole_import(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text(CSV_WITH_EMPTY_RATINGS + "u3,i1,140,lots\n")
    with pytest.raises(DatasetImportError, match="log.csv line 6: rating 'lots' is not a number"):
        import_dataset(name="log", path=path)
    assert counts() == (0, 0, 0, 0)


def test_an_upload_in_another_format_than_chosen_says_what_was_expected_and_found(client, django_user_model):
    job = _upload_through_the_admin(client, django_user_model, "log.csv", "user,item\nu1,i1\n", format="recbole")
    assert (job.status, job.error) == ("failed", "")
    assert job.message == ("log.csv: the chosen format, RecBole atomic files, needs a .inter file (optionally .item "
                           "and .user); found log.csv, which looks like generic CSV (choose that format, or let it be "
                           "detected)")
    assert counts() == (0, 0, 0, 0)


def test_an_upload_mixing_formats_names_each_file_s_format(client, django_user_model):
    job = _upload_through_the_admin(client, django_user_model, "log.csv", "user,item\nu1,i1\n",
                                    more={"x.inter": "user_id:token\titem_id:token\n1\t2\n"})
    assert job.status == "failed"
    assert job.message == ("log.csv, x.inter: files of different formats: log.csv (generic CSV), x.inter (RecBole "
                           "atomic files); upload one dataset's files, all in one format")
    assert counts() == (0, 0, 0, 0)


# Re-importing: rows are matched by what they are (user, item, timestamp), never by their place in the file.

def _held(dataset, user):
    """(item, timestamp, state) of a user's history, oldest first."""
    rows = Interaction.objects.filter(sequence__dataset=dataset, sequence__external_user_id=user)
    return [(r.item.external_id, r.timestamp, r.state) for r in rows.select_related("item").order_by(
        *Interaction.CHRONOLOGICAL)]


def _member_removes(dataset, username, user, item, make_user):
    from recourse.services.corrections import remove_from_history

    member = make_user(username)
    InteractionSequence.objects.filter(dataset=dataset, external_user_id=user).update(user=member)
    row = Interaction.objects.get(sequence__dataset=dataset, sequence__external_user_id=user, item__external_id=item)
    remove_from_history(user=member, interaction_id=row.pk)
    return row


def test_a_reimport_with_rows_inserted_and_reordered_keeps_each_correction_on_its_interaction(tmp_path, make_user):
    first = tmp_path / "v1.csv"
    first.write_text("user,item,timestamp\nu1,a,100\nu1,b,200\nu1,c,300\nu2,a,150\n")
    dataset = import_dataset(name="log", path=first)
    removed = _member_removes(dataset, "alice", "u1", "b", make_user)
    # Version 2: a new row on top, u1's rows reordered and split by another user's, one new row of u1's.
    second = tmp_path / "v2.csv"
    second.write_text("user,item,timestamp\nu2,z,50\nu1,c,300\nu1,a,100\nu2,a,150\nu1,d,400\nu1,b,200\n")
    import_dataset(name="log", path=second)
    assert _held(dataset, "u1") == [("a", 100, "active"), ("b", 200, "excluded"), ("c", 300, "active"),
                                    ("d", 400, "active")]
    assert _held(dataset, "u2") == [("z", 50, "active"), ("a", 150, "active")]
    assert Interaction.objects.get(pk=removed.pk).state == "excluded"
    assert Dataset.objects.get(name="log").n_interactions == 6
    import_dataset(name="log", path=second)  # idempotent
    assert Dataset.objects.get(name="log").n_interactions == 6


def test_a_reimport_tells_exact_duplicates_apart_by_their_order_and_keeps_rows_the_files_no_longer_have(
        tmp_path, make_user):
    first = tmp_path / "v1.csv"
    first.write_text("user,item,timestamp\nu1,a,100\nu1,a,100\nu1,b,200\n")
    dataset = import_dataset(name="log", path=first)
    second = tmp_path / "v2.csv"
    second.write_text("user,item,timestamp\nu1,a,100\nu1,a,100\nu1,a,100\n")  # a third "a"; "b" left out
    import_dataset(name="log", path=second)
    assert _held(dataset, "u1") == [("a", 100, "active")] * 3 + [("b", 200, "active")]


def test_a_reimport_of_ordinal_files_appends_at_each_user_s_end(tmp_path, make_user):
    first = tmp_path / "v1.txt"
    first.write_text("1 1\n1 2\n2 2\n")
    dataset = import_dataset(name="sas", path=first, format="sasrec")
    _member_removes(dataset, "alice", "1", "2", make_user)
    second = tmp_path / "v2.txt"
    second.write_text("1 1\n1 2\n1 3\n2 2\n2 1\n")  # every timestamp after the first row moved
    import_dataset(name="sas", path=second, format="sasrec")
    assert [(item, state) for item, _, state in _held(dataset, "1")] == [
        ("1", "active"), ("2", "excluded"), ("3", "active")]
    assert [item for item, _, _ in _held(dataset, "2")] == ["2", "1"]
    assert Dataset.objects.get(name="sas").n_interactions == 5


def test_a_reimport_of_ordinal_files_that_reorders_a_history_is_refused_and_changes_nothing(tmp_path, make_user):
    first = tmp_path / "v1.txt"
    first.write_text("1 1\n1 2\n2 2\n")
    dataset = import_dataset(name="sas", path=first, format="sasrec")
    _member_removes(dataset, "alice", "1", "2", make_user)
    before = counts()
    second = tmp_path / "v2.txt"
    second.write_text("1 2\n1 1\n2 2\n")
    with pytest.raises(DatasetImportError, match=r"^sas has no timestamps, so a re-import can only add rows at the "
                                                 r"end of each user's history; user 1 already has 2 imported "
                                                 r"interactions, its interaction 1 is item 1, and these files have "
                                                 r"item 2 there\. Nothing was imported"):
        import_dataset(name="sas", path=second, format="sasrec")
    assert counts() == before
    assert [(item, state) for item, _, state in _held(dataset, "1")] == [("1", "active"), ("2", "excluded")]


# The importer's field mapping, shown to the administrator (read-only) on the dataset and on the import job.

def test_the_admin_sees_which_columns_an_upload_s_fields_came_from(client, django_user_model):
    csv = "uid,movie_id,price,score,time,name,genres\nu1,i1,9,4,100,Alpha (1999),Action\nu2,i1,9,5,110,Alpha (1999),\n"
    job = _upload_through_the_admin(client, django_user_model, "log.csv", csv)
    assert job.status == "succeeded"
    expected = [["User", "log.csv: column “uid”"], ["Item", "log.csv: column “movie_id”"],
                ["Rating", "log.csv: column “score”"], ["Time", "log.csv: column “time”"],
                ["Title", "log.csv: column “name”"],
                ["Year", "log.csv: column “name”, the year in brackets after the title"],
                ["Categories", "log.csv: column “genres”"]]
    assert job.result["field_mapping"] == expected
    dataset = Dataset.objects.get(name="mine")
    assert dataset.field_mapping == expected
    for url in (reverse("admin:recsys_dataset_change", args=[dataset.pk]),
                reverse("admin:recsys_job_change", args=[job.pk])):
        page = client.get(url).content.decode()
        assert '<tr><th scope="row">User</th><td>log.csv: column “uid”</td></tr>' in page, url
        assert '<tr><th scope="row">Categories</th><td>log.csv: column “genres”</td></tr>' in page, url
        assert "price" not in page.split("field-mapping")[1].split("</table>")[0]


def test_the_field_mapping_of_fixed_formats_and_of_roles_the_files_lack(tmp_path):
    ml = import_dataset(name="ml100k", path=data.write_ml100k(tmp_path / "ml"))
    assert dict(ml.field_mapping)["Time"] == "u.data: field 4 (unix seconds)"
    assert dict(ml.field_mapping)["Categories"] == "u.item: the genre flags, named by u.genre"
    sas = import_dataset(name="sas", path=data.write_sasrec(tmp_path), format="sasrec")
    assert sas.field_mapping == [["User", "column 1"], ["Item", "column 2"],
                                 ["Rating", "none: interactions without a rating"],
                                 ["Time", "none: the order of the rows"],
                                 ["Title", "none: each item is titled by its id"],
                                 ["Year", "none"], ["Categories", "none"]]
    rb = import_dataset(name="rb", path=data.write_recbole(tmp_path / "rb"))
    mapping = dict(rb.field_mapping)
    assert mapping["User"].startswith("tiny.inter: field “") and mapping["Title"].startswith("tiny.item: field “")


@pytest.mark.parametrize("policy", ["anonymise", "delete"])
def test_a_reimport_does_not_bring_back_the_history_of_a_member_who_erased_their_data(tmp_path, make_user, policy):
    from django.db import transaction

    from recsys.services.history import erase_for_user

    path = data.write_generic_csv(tmp_path)
    dataset = import_dataset(name="log", path=path)
    Dataset.objects.filter(pk=dataset.pk).update(erasure_policy=policy)
    alice = make_user("alice")
    InteractionSequence.objects.filter(dataset=dataset, external_user_id="u1").update(user=alice)
    with transaction.atomic():
        erase_for_user(alice)
    before = counts()
    dataset, report = import_dataset_reported(name="log", path=path)
    assert counts() == before and not InteractionSequence.objects.filter(external_user_id="u1").exists()
    assert "3 rows of 1 member(s) who erased their data were left out" in report.warnings
    assert report.rows == 6 and _held(dataset, "u2")  # every row read; u2's are still matched and kept


def test_a_reimport_of_only_erased_histories_imports_nothing_and_says_why(tmp_path, make_user, monkeypatch):
    """The files do hold interactions: the import is not refused as empty; each import leaves the erased rows out
    in one pass."""
    from django.db import transaction

    from recsys.services import imports
    from recsys.services.history import erase_for_user

    dataset = import_dataset(name="log", path=data.write_generic_csv(tmp_path))
    alice = make_user("alice")
    InteractionSequence.objects.filter(dataset=dataset, external_user_id="u1").update(user=alice)
    with transaction.atomic():
        erase_for_user(alice)
    only_alice = tmp_path / "alice.csv"
    only_alice.write_text("\n".join(data.write_generic_csv(tmp_path).read_text().splitlines()[:4]) + "\n")
    passes = []
    filter_erased = imports._without_erased_histories
    monkeypatch.setattr(imports, "_without_erased_histories", lambda *args: passes.append(args) or filter_erased(*args))
    before = counts()
    _, report = import_dataset_reported(name="log", path=only_alice)
    assert counts() == before and len(passes) == 1
    assert report.rows == 3 and "3 rows of 1 member(s) who erased their data were left out" in report.warnings


def test_an_empty_upload_gets_one_message_saying_the_file_is_empty(client, django_user_model):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from recsys.models import Job

    client.force_login(django_user_model.objects.create_superuser("root", "root@example.org", "pw-long-enough"))
    response = client.post(reverse("admin:recsys_dataset_import"),
                           {"name": "mine", "format": "", "files": [SimpleUploadedFile("log.csv", b"")]})
    page = response.content.decode()
    assert response.status_code == 200 and "empty" in page
    assert "Give a server path or upload" not in page  # the file was given; it is the file that is refused
    assert not Job.objects.exists()


def test_a_field_mapping_does_not_claim_years_or_categories_that_no_item_has(client, django_user_model):
    """A music log: its titles end in "(Live)", not in a year; its genre column is empty for every track."""
    csv = 'user,item,timestamp,title,genres\nu1,t1,100,"Artist 3 – Track 15 (Live)",\nu1,t2,200,Artist 3 – Track 16,\n'
    job = _upload_through_the_admin(client, django_user_model, "plays.csv", csv)
    assert job.status == "succeeded"
    rows = dict(map(tuple, job.result["field_mapping"]))
    assert rows["Year"] == "none (looked for in plays.csv: column “title”, the year in brackets after the title)"
    assert rows["Categories"] == "none (looked for in plays.csv: column “genres”)"
    assert not Dataset.objects.get(name="mine").has_categories


def test_a_new_dataset_name_that_is_no_slug_is_refused_by_the_command_as_by_the_admin(tmp_path):
    """'My Shop/2024' was imported from the shell, then its admin page could never be saved ('Enter a valid slug')."""
    csv_path = str(data.write_generic_csv(tmp_path))
    before = counts()
    with pytest.raises(CommandError, match=r"'My Shop/2024' is not a dataset name: use letters, digits, hyphens and "
                                           r"underscores only, e.g. 'my-shop2024'"):
        call_command("import_dataset", "My Shop/2024", csv_path)
    with pytest.raises(DatasetImportError, match="at most 64 characters"):
        import_dataset(name="x" * 65, path=csv_path)
    assert counts() == before
    Dataset.objects.create(name="Old name", title="Old")  # held before the check: more files may still be added
    assert import_dataset(name="Old name", path=csv_path).n_interactions > 0
