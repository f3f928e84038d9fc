"""Each supported format, parsed from small slices written in the exact on-disk format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.importers import ImportFormatError, detect_format, parse


def item(dataset, external_id: str) -> dict:
    rows = dataset.items[dataset.items["external_id"] == external_id]
    assert len(rows) == 1
    return rows.iloc[0].to_dict()


def assert_contract(dataset) -> None:
    interactions, items = dataset.interactions, dataset.items
    assert list(interactions.columns[:5]) == ["user_id", "item_id", "timestamp", "rating", "position"]
    assert interactions["timestamp"].dtype == np.int64
    assert interactions["rating"].dtype == np.float64
    assert interactions["position"].tolist() == list(range(len(interactions)))
    assert all(isinstance(value, str) for value in interactions["user_id"])
    assert all(isinstance(value, str) for value in interactions["item_id"])
    assert list(items.columns) == ["external_id", "title", "year", "categories"]
    assert items["external_id"].is_unique
    assert str(items["year"].dtype) == "Int64"
    assert all(isinstance(value, tuple) for value in items["categories"])
    assert set(interactions["item_id"]) <= set(items["external_id"])
    assert len(dataset.checksum) == 64


def test_ml100k(ml100k_dir):
    dataset = parse(ml100k_dir)
    assert_contract(dataset)
    assert dataset.format == "ml-100k" and dataset.has_timestamps and dataset.has_categories
    assert dataset.interactions.iloc[0].to_dict() == {
        "user_id": "1", "item_id": "10", "timestamp": 881250949, "rating": 5.0, "position": 0,
    }  # fmt: skip
    assert item(dataset, "543") == {
        "external_id": "543", "title": "Misérables, Les (1995)", "year": 1995, "categories": ("Drama", "Musical"),
    }  # fmt: skip
    assert item(dataset, "10")["categories"] == ("Drama", "War")
    assert item(dataset, "267")["categories"] == ()  # "unknown" genre is no category
    assert pd.isna(item(dataset, "267")["year"])
    assert item(dataset, "99")["title"] == "99"  # rated but not in u.item
    assert dataset.users.iloc[0].to_dict() == {
        "user_id": "1",
        "gender": "M",
        "age": 24,
        "occupation": "technician",
        "zip": "85711",
    }
    assert len(dataset.source_files) == 4


def test_ml1m(ml1m_dir):
    dataset = parse(ml1m_dir)
    assert_contract(dataset)
    assert dataset.format == "ml-1m"
    assert dataset.interactions["user_id"].tolist() == ["1", "1", "2"]
    assert dataset.interactions["timestamp"].tolist() == [978300760, 978302109, 978298413]
    assert item(dataset, "73") == {
        "external_id": "73", "title": "Misérables, Les (1995)", "year": 1995, "categories": ("Drama", "Musical"),
    }  # fmt: skip
    assert item(dataset, "661")["categories"] == ("Animation", "Children's", "Musical")
    assert dataset.users.set_index("user_id").loc["1", "occupation"] == "K-12 student"
    assert dataset.users["age"].tolist() == [1, 56]


def test_ml1m_accepts_a_utf8_reencoded_movies_file(ml1m_dir):
    movies = ml1m_dir / "movies.dat"
    movies.write_bytes(movies.read_bytes().decode("latin-1").encode("utf-8"))
    assert item(parse(ml1m_dir), "73")["title"] == "Misérables, Les (1995)"


def test_ml_latest_crlf_quotes_and_tags(ml_latest_dir):
    dataset = parse(ml_latest_dir)
    assert_contract(dataset)
    assert dataset.format == "ml-latest"
    assert dataset.interactions["rating"].tolist() == [4.0, 3.5, 0.5]
    assert item(dataset, "73")["title"] == "Misérables, Les (1995)"
    assert item(dataset, "114335")["categories"] == ()
    assert item(dataset, "1")["categories"][0] == "Adventure"
    assert dataset.tags.to_dict("records") == [
        {"user_id": "2", "item_id": "73", "tag": "sad, but good", "timestamp": 1445714996}
    ]
    assert dataset.users is None


def test_recbole_ml100k_fields(recbole_dir):
    dataset = parse(recbole_dir)
    assert_contract(dataset)
    assert dataset.format == "recbole" and dataset.has_timestamps and dataset.has_categories
    assert dataset.interactions["timestamp"].tolist() == [881250949, 891717742, 881250950]
    assert dataset.interactions["rating"].tolist() == [3.0, 3.5, 1.0]
    assert item(dataset, "302") == {
        "external_id": "302",
        "title": "Misérables, Les",
        "year": 1995,
        "categories": ("Drama", "Musical"),
    }
    assert item(dataset, "267")["categories"] == () and pd.isna(item(dataset, "267")["year"])
    assert item(dataset, "999")["title"] == "999"
    assert dataset.users["zip"].tolist() == ["05009", "00000"]  # zip codes stay text
    mapping = dataset.field_mapping
    assert (mapping["interaction_user"], mapping["interaction_item"], mapping["title"], mapping["categories"]) == (
        "user_id", "item_id", "movie_title", "class",
    )  # fmt: skip


def test_recbole_other_field_names_and_no_timestamp(write, tmp_path):
    write("yelp/yelp.inter", "user_id:token\tbusiness_id:token\tstars:float\nu1\tb1\t4\nu2\tb2\t5\n")
    write("yelp/yelp.item", "business_id:token\tname:token_seq\tcategories:token\nb1\tJoe's Diner\tFood\n")
    dataset = parse(tmp_path / "yelp")
    assert dataset.field_mapping["interaction_item"] == "business_id"
    assert dataset.field_mapping["rating"] == "stars"
    assert not dataset.has_timestamps
    assert dataset.interactions["timestamp"].tolist() == [0, 1]
    assert (item(dataset, "b1")["title"], item(dataset, "b1")["categories"]) == ("Joe's Diner", ("Food",))
    assert pd.isna(item(dataset, "b1")["year"])
    assert item(dataset, "b2")["title"] == "b2"


def test_a_recbole_field_named_like_played_at_is_the_timestamp(write):
    path = write("plays/plays.inter", "user_id:token\ttrack_id:token\tplay_count:float\tplayed_at:float\n"
                                      "u1\tt2\t3\t1600000900\nu1\tt1\t1\t1600000100\n")
    dataset = parse(path)
    assert dataset.field_mapping["timestamp"] == "played_at" and "rating" not in dataset.field_mapping
    assert dataset.has_timestamps and dataset.interactions["timestamp"].tolist() == [1600000900, 1600000100]


def test_a_music_csv_with_the_artist_and_the_track_name_titles_items_by_the_track(write):
    """A Last.fm-style plays log names the artist and the track: it was refused ('header names the title column
    twice', though no column is named twice); the item's own name is its title, the other column is ignored, said."""
    path = write("plays/plays.csv", "session_id,timestamp,artist_name,track_name,track_id,user_id\n"
                                    "u1,2009-05-04T13:54:10Z,坂本龍一,\"Composition 0919, live\",t2,x\n",
                 newline="\r\n")
    dataset = parse(path)
    assert dataset.field_mapping == {"user": "user_id", "timestamp": "timestamp", "title": "track_name",
                                     "item": "track_id"}
    assert item(dataset, "t2")["title"] == "Composition 0919, live"
    assert "several columns could be the title: read it from “track_name”; “artist_name” ignored" in dataset.warnings
    assert "several columns could be the user: read it from “user_id”; “session_id” ignored" in dataset.warnings


def test_the_title_follows_the_item_column_that_is_kept_when_two_could_be_the_item(write):
    """The title's likeliest name came from the first item-like column even when another was kept as the item."""
    path = write("plays/plays.csv", "artist_id,user_id,track_id,artist_name,track_name\n"
                                    "a1,u1,t2,Sakamoto,Composition 0919\n")
    dataset = parse(path)
    assert dataset.field_mapping["item"] == "track_id" and dataset.field_mapping["title"] == "track_name"
    assert item(dataset, "t2")["title"] == "Composition 0919"


def test_a_csv_header_with_spaces_or_dashes_in_its_names_is_read(write):
    dataset = parse(write("bx.csv", "User-ID,ISBN,Book Rating\nu1,0195153448,7\n"))
    assert dataset.field_mapping == {"user": "User-ID", "item": "ISBN", "rating": "Book Rating"}


def test_a_csv_naming_the_same_column_twice_is_refused_with_its_name(write):
    with pytest.raises(ImportFormatError, match="line 1: header has the column 'user' twice"):
        parse(write("twice.csv", "user,item,user\nu1,a,u1\n"))
    assert parse(write("notes.csv", "user,item,note,note\nu1,a,x,y\n")).n_interactions == 1  # ignored ones may


def test_a_recbole_track_file_is_titled_by_the_track_name_not_the_artist(write):
    write("music/music.inter", "user_id:token\ttrack_id:token\tplayed_at:float\nu1\tt1\t1600000000\n")
    write("music/music.item", "track_id:token\tartist_name:token\ttrack_name:token\nt1\tUnderworld\tBorn Slippy\n")
    dataset = parse(write("music/music.user", "user_id:token\nu1\n").parent)
    assert item(dataset, "t1")["title"] == "Born Slippy" and dataset.field_mapping["title"] == "track_name"
    write("artists/a.inter", "user_id:token\tartist_id:token\nu1\ta1\n")
    write("artists/a.item", "artist_id:token\ttrack_name:token\tartist_name:token\na1\tBorn Slippy\tUnderworld\n")
    assert item(parse(write("artists/a.user", "user_id:token\nu1\n").parent), "a1")["title"] == "Underworld"


def test_a_csv_with_classic_mac_line_ends_is_read_line_by_line(write):
    """Excel's 'CSV (Macintosh)' ends lines with CR alone: the file was one line, refused as 'not valid CSV
    (new-line character seen in unquoted field - do you need to open the file in universal-newline mode?)'."""
    dataset = parse(write("mac.csv", "user,item,timestamp\n1,a,1700000000\n2,\"b, c\",1700000001\n", newline="\r"))
    assert dataset.interactions[["user_id", "item_id"]].values.tolist() == [["1", "a"], ["2", "b, c"]]
    with pytest.raises(ImportFormatError, match="mac2.csv line 3: timestamp 'x' is neither"):
        parse(write("mac2.csv", "user,item,timestamp\n1,a,1700000000\n2,b,x\n", newline="\r"))


def test_a_csv_or_txt_named_in_capitals_is_detected_and_read(write, tmp_path):
    """Windows tools write ORDERS.CSV: it was 'unrecognised dataset', alone or in an uploaded folder."""
    path = write("upper/ORDERS.CSV", "user,item\n1,a\n")
    assert detect_format(path) == "csv" and detect_format(path.parent) == "csv"
    assert parse(path.parent).n_interactions == 1 and parse(path.parent, format="csv").n_interactions == 1
    assert parse(write("seq/CLICKS.TXT", "1 2\n1 3\n").parent).format == "sasrec"


def test_csv_rows_of_empty_cells_are_skipped_like_blank_lines(write):
    """A spreadsheet saves rows that were touched but left empty as ',,': the file was refused ('line 4: user id is
    empty') though it holds no such row."""
    dataset = parse(write("sheet.csv", "user,item,rating\nu1,a,5\n,,\nu2,b,4\n  \n,,\n", newline="\r\n"))
    rows = dataset.interactions[["user_id", "item_id", "rating"]].values.tolist()
    assert rows == [["u1", "a", 5.0], ["u2", "b", 4.0]]
    with pytest.raises(ImportFormatError, match="sheet2.csv line 4: rating 'x' is not a number"):
        parse(write("sheet2.csv", "user,item,rating\n,,\nu1,a,5\nu2,b,x\n"))
    with pytest.raises(ImportFormatError, match="sheet3.csv line 3: user id is empty"):
        parse(write("sheet3.csv", "user,item,rating\nu1,a,5\n,b,4\n"))


def test_recbole_item_and_user_files_whose_id_is_not_their_first_field_are_matched_by_the_id_field(write):
    """'title, item_id' made the titles the ids: bogus items 'Red mug', 'Blue cup' in the catalogue, and the items
    interacted with 'absent from the item file', titled by their id."""
    write("shop/shop.inter", "user_id:token\titem_id:token\ttimestamp:float\nu1\ti1\t1700000000\nu1\ti2\t1700000100\n")
    dataset = parse(write("shop/shop.item", "title:token\titem_id:token\tcategory:token\nRed mug\ti1\tkitchen\n"
                                            "Blue cup\ti2\tkitchen\n").parent)
    assert dataset.items["external_id"].tolist() == ["i1", "i2"] and not dataset.warnings
    assert (item(dataset, "i1")["title"], item(dataset, "i1")["categories"]) == ("Red mug", ("kitchen",))
    assert dataset.field_mapping["item_id"] == "item_id" and dataset.field_mapping["title"] == "title"
    users = parse(write("shop/shop.user", "age:float\tuser_id:token\n31\tu1\n").parent).users
    assert users.to_dict("records") == [{"user_id": "u1", "age": 31}]  # the user file's id need not be first either


def test_recbole_benchmark_splits_are_concatenated_in_order(write, tmp_path):
    header = "session_id:token\titem_id:token\ttimestamp:float\n"
    write("dg/dg.test.inter", header + "s2\ti3\t30\n")
    write("dg/dg.train.inter", header + "s1\ti1\t10\ns1\ti2\t11\n")
    dataset = parse(tmp_path / "dg")
    assert dataset.interactions["item_id"].tolist() == ["i1", "i2", "i3"]
    assert dataset.field_mapping["interaction_user"] == "session_id"
    assert not dataset.has_categories


def test_sasrec_ordinal_timestamps(write):
    path = write("sasrec/ml-1m.txt", "1 10\n1 11\n2 10\n2 12\n")
    dataset = parse(path)
    assert_contract(dataset)
    assert dataset.format == "sasrec"
    assert not dataset.has_timestamps and not dataset.has_categories
    assert dataset.interactions["timestamp"].tolist() == [0, 1, 2, 3]
    assert dataset.interactions["rating"].isna().all()
    assert sorted(dataset.items["title"]) == ["10", "11", "12"]


def test_generic_csv(write):
    path = write(
        "gen/log.csv",
        'user,item,timestamp,rating,title,categories\nu1,a,100,4,"Heat, The (1995)",Action|Crime\n'
        "u1,b,2020-01-01T00:00:00Z,3,,\nu2,a,300,5,,\n",
    )
    dataset = parse(path)
    assert_contract(dataset)
    assert dataset.format == "csv" and dataset.has_categories and dataset.has_timestamps
    assert dataset.interactions["timestamp"].tolist() == [100, 1577836800, 300]
    assert item(dataset, "a") == {
        "external_id": "a",
        "title": "Heat, The (1995)",
        "year": 1995,
        "categories": ("Action", "Crime"),
    }
    assert item(dataset, "b")["title"] == "b"


def test_generic_csv_minimal_header(write):
    dataset = parse(write("gen/log.csv", "user,item,timestamp\n1,2,5\n"))
    assert not dataset.has_categories
    assert dataset.interactions["rating"].isna().all()


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [("ml100k_dir", "ml-100k"), ("ml1m_dir", "ml-1m"), ("ml_latest_dir", "ml-latest"), ("recbole_dir", "recbole")],
)
def test_detect_directories(request, fixture, expected):
    directory = request.getfixturevalue(fixture)
    assert detect_format(directory) == expected
    assert parse(directory).format == expected


def test_detect_single_files(ml100k_dir, ml1m_dir, ml_latest_dir, recbole_dir, write):
    assert detect_format(ml100k_dir / "u.data") == "ml-100k"
    assert detect_format(ml1m_dir / "ratings.dat") == "ml-1m"
    assert detect_format(ml_latest_dir / "ratings.csv") == "ml-latest"
    assert detect_format(recbole_dir / "ml-100k.inter") == "recbole"
    assert detect_format(write("x/seq.txt", "1 2\n")) == "sasrec"
    assert detect_format(write("y/data.csv", "user_id,item_id,timestamp\n1,2,3\n")) == "csv"
    with pytest.raises(ImportFormatError, match="unrecognised dataset"):
        detect_format(write("z/notes.md", "hello\n"))
    with pytest.raises(ImportFormatError, match="unrecognised dataset"):
        detect_format(write("z/empty/readme.txt", "a dataset\n").parent)


def test_single_file_uses_sibling_files(ml1m_dir):
    assert item(parse(ml1m_dir / "ratings.dat"), "73")["year"] == 1995


def test_progress_is_reported_per_stage(ml100k_dir):
    calls = []
    parse(ml100k_dir, progress=lambda done, total: calls.append((done, total)))
    assert 2 <= len(calls) <= 10
    assert calls[-1][0] == calls[-1][1]
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_checksum_is_stable_and_content_sensitive(ml1m_dir):
    first = parse(ml1m_dir).checksum
    assert parse(ml1m_dir).checksum == first
    ratings = ml1m_dir / "ratings.dat"
    ratings.write_text(ratings.read_text() + "2::661::1::978298414\n")
    assert parse(ml1m_dir).checksum != first


def test_explicit_format_overrides_detection(write):
    path = write("odd/pairs.log", "1 2\n1 3\n")
    assert parse(path, format="sasrec").n_interactions == 2
    with pytest.raises(ImportFormatError, match="unknown format 'nope'"):
        parse(path, format="nope")


@pytest.mark.parametrize("cell", ["", " ", '""'])
def test_an_empty_csv_rating_is_an_interaction_without_a_rating(write, cell):
    dataset = parse(write("c/log.csv", f"user,item,timestamp,rating\nu1,i1,1,4\nu1,i2,2,{cell}\nu2,i1,3,3.5\n"))
    assert dataset.n_interactions == 3
    ratings = dataset.interactions["rating"].tolist()
    assert ratings[0] == 4.0 and np.isnan(ratings[1]) and ratings[2] == 3.5


def test_an_empty_recbole_rating_is_an_interaction_without_a_rating(write):
    inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t10\t5\t100\n1\t11\t\t101\n2\t10\t3\t50\n"
    dataset = parse(write("rb/x.inter", inter))
    assert dataset.n_interactions == 3
    assert np.isnan(dataset.interactions["rating"].iloc[1]) and dataset.interactions["rating"].iloc[2] == 3.0


def test_a_rating_column_with_one_value_is_read_as_no_ratings(write):
    """A click log's constant "1" was read as 1 star (disliked: not used) on every interaction."""
    dataset = parse(write("c/clicks.csv", "user,item,rating\nu1,i1,1\nu1,i2,1\nu2,i1,\n"))
    assert dataset.interactions["rating"].isna().all()
    assert dataset.warnings == ["every rating is 1: read as interactions without ratings (implicit feedback)"]
    varied = parse(write("c/rated.csv", "user,item,rating\nu1,i1,1\nu1,i2,2\n"))
    assert varied.interactions["rating"].tolist() == [1.0, 2.0] and not varied.warnings


# Found importing a music-plays log and a shop log (no films, no genres) in each format.

@pytest.mark.parametrize("relative,text", [
    ("plays.txt", "1 10\n1 11\n2 10\n"),
    ("plays/plays.inter", "user_id:token\titem_id:token\ttimestamp:float\nu1\tt1\t100\nu1\tt2\t200\n"),
])
def test_a_format_read_without_an_item_file_does_not_warn_that_items_are_absent_from_one(write, relative, text):
    dataset = parse(write(relative, text))
    assert not [warning for warning in dataset.warnings if "item file" in warning], dataset.warnings
    assert set(dataset.items["title"]) == set(dataset.items["external_id"])  # titled by their id all the same


def test_items_missing_from_an_item_file_are_counted_without_calling_them_rated(write, tmp_path):
    write("shop/shop.inter", "user_id:token\titem_id:token\ttimestamp:float\nu1\tp1\t100\nu1\tp2\t200\n")
    write("shop/shop.item", "item_id:token\ttitle:token_seq\np1\tBlue kettle\n")
    dataset = parse(tmp_path / "shop")
    assert dataset.warnings == ["1 items interacted with but absent from the item file; titled by their id"]


def test_a_movielens_file_in_which_no_item_has_a_genre_has_no_categories(write, tmp_path):
    write("plays/ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,100\n1,2,5.0,200\n")
    write("plays/movies.csv", "movieId,title,genres\n1,Track one,(no genres listed)\n"
                              "2,Track two,(no genres listed)\n")
    dataset = parse(tmp_path / "plays")
    assert dataset.format == "ml-latest" and not dataset.has_categories
    write("genred/ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,100\n1,2,5.0,200\n")
    write("genred/movies.csv", 'movieId,title,genres\n1,"Heat (1995)",Action\n2,Other (1996),(no genres listed)\n')
    assert parse(tmp_path / "genred").has_categories


def test_a_csv_of_another_domain_is_read_by_the_names_recbole_knows(write):
    """A music log named its columns as a RecBole file would: before, the track id was refused and its time and
    title columns silently left out (no timestamps: the rows' order instead)."""
    path = write("plays/plays.csv", "user_id,track_id,track_name,played_at,stars\n"
                                    "u1,t2,Second song,2020-01-02T00:00:00Z,4\n"
                                    "u1,t1,First song,2020-01-01T00:00:00Z,5\n")
    dataset = parse(path)
    assert dataset.format == "csv" and dataset.has_timestamps
    assert dataset.field_mapping == {"user": "user_id", "item": "track_id", "title": "track_name",
                                     "timestamp": "played_at", "rating": "stars"}
    assert item(dataset, "t1")["title"] == "First song"
    assert dataset.interactions["timestamp"].tolist() == [1577923200, 1577836800]
