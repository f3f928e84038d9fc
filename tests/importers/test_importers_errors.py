"""Bad input fails with ImportFormatError naming the file and (where it applies) the line."""

from __future__ import annotations

import pytest

from recsys.importers import ImportFormatError, parse

ML1M_MOVIES = "1::Toy Story (1995)::Animation\n2::Jumanji (1995)::Adventure\n"
RATINGS_CSV_HEADER = "userId,movieId,rating,timestamp\n"
MOVIES_CSV = "movieId,title,genres\n1,Toy Story (1995),Comedy\n"
INTER_HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"


def parse_error(path, **kwargs) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as caught:
        parse(path, **kwargs)
    return caught.value


def test_error_attributes_and_message(write):
    path = write("a/u.data", "1\t2\t3\t4\n1\t2\tx\t4\n")
    error = parse_error(path.parent)
    assert (error.path, error.line) == (str(path), 2)
    assert error.message == "rating 'x' is not a number"
    assert str(error) == "u.data line 2: rating 'x' is not a number"
    assert isinstance(error, ValueError)


def test_missing_path(tmp_path):
    error = parse_error(tmp_path / "nowhere")
    assert error.line is None and "not found" in str(error)


def test_missing_ratings_file(write, tmp_path):
    write("ml-1m/movies.dat", ML1M_MOVIES)
    assert str(parse_error(tmp_path / "ml-1m")) == "ratings.dat: file not found"


def test_missing_item_file(write, tmp_path):
    write("ml-1m/ratings.dat", "1::1::5::978300760\n")
    assert str(parse_error(tmp_path / "ml-1m")) == "movies.dat: file not found"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {"u.data": "1,2,3,4\n1,3,3,5\n"},
            "u.data line 1: expected 4 fields separated by tabs, found 1 (wrong separator?)",
            id="wrong-separator",
        ),
        pytest.param(
            {"ratings.dat": "1\t1\t5\t978300760\n", "movies.dat": ML1M_MOVIES},
            "ratings.dat line 1: expected 4 fields separated by '::', found 1 (wrong separator?)",
            id="ml1m-tab-separated",
        ),
        pytest.param(
            {"ratings.dat": "1::1::5::978300760\nabc::1::5::978300761\n", "movies.dat": ML1M_MOVIES},
            "ratings.dat line 2: user id 'abc' is not an integer",
            id="non-numeric-user",
        ),
        pytest.param(
            {"ratings.dat": "1::1::5::978300760\n1::2::4::978300761\n1::2::4\n", "movies.dat": ML1M_MOVIES},
            "ratings.dat line 3: expected 4 fields separated by '::', found 3 (truncated line?)",
            id="truncated-rating",
        ),
        pytest.param(
            {
                "ratings.dat": "1::1::5::978300760\n",
                "movies.dat": "1::Toy Story (1995)::Animation\n2::Jumanji (1995)\n",
            },
            "movies.dat line 2: expected 3 fields separated by '::', found 2 (truncated line?)",
            id="truncated-title-line",
        ),
        pytest.param(
            {"ratings.dat": "1::1::5::978300760\n1::2::5::97830x\n", "movies.dat": ML1M_MOVIES},
            "ratings.dat line 2: timestamp '97830x' is not an integer",
            id="non-numeric-timestamp",
        ),
        pytest.param(
            {"ratings.dat": "1::1::5::978300760\n1::2::5::978300761::9\n", "movies.dat": ML1M_MOVIES},
            "ratings.dat line 2: expected 4 fields separated by '::', found 5",
            id="extra-field",
        ),
        pytest.param(
            {"u.data": "1\t2\t3\t4\n\n\n1\t2\t3.5.1\t4\n", "u.item": "2|x||||" + "|".join("0" * 19) + "\n"},
            "u.data line 4: rating '3.5.1' is not a number",
            id="line-numbers-count-blank-lines",
        ),
        pytest.param({"u.data": ""}, "u.data: file is empty", id="empty-file"),
        pytest.param({"u.data": "\n\n"}, "u.data: file is empty", id="blank-file"),
        pytest.param(
            {"ratings.csv": RATINGS_CSV_HEADER, "movies.csv": MOVIES_CSV},
            "ratings.csv: no data rows",
            id="header-only",
        ),
        pytest.param(
            {"ratings.csv": RATINGS_CSV_HEADER + "1,1,4.0,964982703\n1,1,4.0,yesterday\n", "movies.csv": MOVIES_CSV},
            "ratings.csv line 3: timestamp 'yesterday' is not an integer",
            id="csv-line-numbers-include-header",
        ),
        pytest.param(
            {"ratings.csv": "user,movie,stars,time\n1,1,4.0,964982703\n", "movies.csv": MOVIES_CSV},
            "ratings.csv line 1: expected header 'userId,movieId,rating,timestamp', found 'user,movie,stars,time'",
            id="ml-latest-wrong-header",
        ),
        pytest.param(
            {
                "ratings.csv": RATINGS_CSV_HEADER + "1,1,4.0,964982703\n",
                "movies.csv": MOVIES_CSV + "2,Jumanji (1995)\n",
            },
            "movies.csv line 3: expected 3 fields separated by ',', found 2 (truncated line?)",
            id="csv-truncated-text-line",
        ),
    ],
)
def test_bad_movielens_input(write, tmp_path, files, expected):
    for name, text in files.items():
        write(f"data/{name}", text)
    assert str(parse_error(tmp_path / "data")) == expected


def test_bad_encoding_in_utf8_file(write, tmp_path):
    write("data/ratings.csv", RATINGS_CSV_HEADER + "1,1,4.0,964982703\n")
    write("data/movies.csv", MOVIES_CSV + "73,Misérables (1995),Drama\n", encoding="latin-1")
    assert str(parse_error(tmp_path / "data")) == "movies.csv line 3: bad encoding: byte 0xe9 is not valid UTF-8"


def test_utf16_file_is_rejected(write, tmp_path):
    write("data/u.data", "1\t2\t3\t4\n", encoding="utf-16")
    error = parse_error(tmp_path / "data")
    assert error.line == 1 and "NUL bytes" in error.message


@pytest.mark.parametrize(
    ("inter", "expected"),
    [
        pytest.param(
            "user_id\titem_id\n1\t2\n", "x.inter line 1: header field 'user_id' is not 'name:type'", id="no-types"
        ),
        pytest.param(
            INTER_HEADER + "1\t2\t3\t4\n1\t2\tx\t4\n", "x.inter line 3: rating 'x' is not a number", id="rating"
        ),
        pytest.param(
            INTER_HEADER + "1\t2\t3\n", "x.inter line 2: expected 4 fields separated by tabs, found 3", id="short"
        ),
        pytest.param(
            "rating:float\tscore:float\n1\t2\n",
            "x.inter line 1: cannot tell which token field is the user id",
            id="no-user",
        ),
        pytest.param(
            "user_id:token\titem_id:token\tdate:token\n1\t2\tsoon\n",
            "x.inter line 2: date 'soon' is neither a number nor an ISO date",
            id="bad-date",
        ),
    ],
)
def test_bad_recbole_input(write, inter, expected):
    path = write("rb/x.inter", inter)
    assert str(parse_error(path)).startswith(expected)


def test_an_id_too_large_for_64_bits_names_its_line_and_says_it_is_too_large(write):
    """A news log's 20-digit article id was refused as 'could not parse: Overflow', without a line."""
    path = write("s/clicks.txt", "1 2\n2 99999999999999999999\n3 4\n")
    assert str(parse_error(path)) == ("clicks.txt line 2: item id '99999999999999999999' is too large: integers here "
                                      "must lie within ±9,223,372,036,854,775,807 (a CSV file keeps ids of any kind "
                                      "as text)")
    path = write("ml/u.data", "1\t2\t5\t881250949\n1\t3\t4\t99999999999999999999\n")
    assert str(parse_error(path)).startswith("u.data line 2: timestamp '99999999999999999999' is too large")
    assert parse(write("big/clicks.txt", "1 9223372036854775807\n")).items["external_id"].tolist() == [
        "9223372036854775807"]


def test_a_date_and_a_time_column_are_refused_saying_which_was_read_and_what_to_do(write):
    path = write("log.csv", "user,item,date,time\nu1,a,2024-03-01,10:15:00\n")
    assert str(parse_error(path)) == (
        "log.csv line 2: timestamp '10:15:00' is neither a number nor an ISO date (several columns could be the "
        "timestamp: read it from “time”; “date” ignored; a date and its time of day belong in one column, e.g. "
        "2024-03-01T10:15:00)")


def test_several_inter_files_need_a_choice(write, tmp_path):
    write("rb/a.inter", INTER_HEADER + "1\t2\t3\t4\n")
    write("rb/b.inter", INTER_HEADER + "1\t2\t3\t4\n")
    assert "several .inter files (a.inter, b.inter)" in str(parse_error(tmp_path / "rb"))


def test_bad_sasrec_input(write):
    path = write("s/seq.txt", "1 2\n1 x\n")
    assert str(parse_error(path)) == "seq.txt line 2: item id 'x' is not an integer"
    path = write("t/seq.txt", "1 2\n1\n")
    assert (
        str(parse_error(path))
        == "seq.txt line 2: expected 2 fields separated by whitespace, found 1 (wrong separator?)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("user,timestamp\n1,2\n", "log.csv line 1: header has no item column", id="no-item"),
        pytest.param("user;item;rating\n1;2;3\n", "log.csv line 1: header has no user column (expected 'user,item"
                     "[,timestamp][,rating][,title][,categories]'); its fields are separated by semicolons, a CSV file "
                     "here by commas", id="semicolons"),
        pytest.param("user\titem\n1\t2\n", "log.csv line 1: header has no user column", id="tabs"),
        pytest.param(
            "user,item,timestamp\n1,2,3\n1,2,later\n", "log.csv line 3: timestamp 'later' is neither", id="bad-time"
        ),
        pytest.param(
            "user,item,rating\n1,2,3\n1,2,good\n", "log.csv line 3: rating 'good' is not a number", id="bad-rating"
        ),
        pytest.param(
            "user,item,title\n1,2,Heat\n1,2\n", "log.csv line 3: expected 3 fields separated by ','", id="short"
        ),
    ],
)
def test_bad_generic_csv(write, text, expected):
    assert str(parse_error(write("c/log.csv", text))).startswith(expected)


OVERSIZED = "x" * 200_000


@pytest.mark.parametrize("body,line", [
    (f"u1,i1,1,4,Alpha\nu1,i2,2,5,{OVERSIZED}\n", 3),
    (f'u1,i1,1,4,Alpha\nu1,i2,2,5,"{OVERSIZED}"\n', 3),
    ('u1,i1,1,4,"Alpha\n' + "u1,i2,2,5,Beta\n" * 20_000, 2),  # a quote left open swallows the rest
])
def test_an_oversized_csv_field_names_the_file_and_the_line(write, body, line):
    path = write("mine.csv", "user,item,timestamp,rating,title\n" + body)
    error = parse_error(path)
    assert (error.path, error.line) == (str(path), line)
    assert str(error).startswith(f"mine.csv line {line}: a field starting on this line is longer than 131,072")


def test_an_oversized_movielens_title_names_the_file_and_the_line(write, tmp_path):
    write("ml/ratings.csv", RATINGS_CSV_HEADER + "1,1,4.0,9\n")
    write("ml/movies.csv", f"movieId,title,genres\n1,{OVERSIZED},Comedy\n")
    assert str(parse_error(tmp_path / "ml")).startswith("movies.csv line 2: a field starting on this line")


def test_an_oversized_header_names_the_file_and_line_one(write):
    path = write("mine.csv", f"user,item,{OVERSIZED}\nu1,i1,1\n")
    assert str(parse_error(path)).startswith("mine.csv line 1: a field starting on this line")


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("user,item\nu1,i1\nu1,\n", "log.csv line 3: item id is empty", id="csv-item"),
    pytest.param("user,item,title\nu1,i1,A\n ,i2,B\n", "log.csv line 3: user id is empty", id="csv-user-blank"),
    pytest.param('user,item\nu1,i1\n"",i2\n', "log.csv line 3: user id is empty", id="csv-user-quoted"),
])
def test_an_empty_csv_id_names_the_line(write, text, expected):
    assert str(parse_error(write("c/log.csv", text))) == expected


def test_an_empty_recbole_id_names_the_file_and_line(write, tmp_path):
    write("rb/x.inter", "user_id:token\titem_id:token\nu1\ti1\nu2\t\n")
    assert str(parse_error(tmp_path / "rb")) == "x.inter line 3: item_id is empty"
    write("rb2/x.inter", "user_id:token\titem_id:token\nu1\ti1\n")
    write("rb2/x.item", "item_id:token\ttitle:token\ni1\tA\n\tB\n")
    assert str(parse_error(tmp_path / "rb2")) == "x.item line 3: item_id is empty"


@pytest.mark.parametrize("stamp", ["1e30", "inf", "1700000000000", "-99999999999999"])
def test_a_timestamp_no_date_can_hold_names_the_line(write, stamp):
    error = parse_error(write("c/log.csv", f"user,item,timestamp\nu1,i1,1700000000\nu1,i2,{stamp}\n"))
    assert str(error).startswith(f"log.csv line 3: timestamp '{stamp}' is outside the years 1-9999")
    assert "milliseconds?" in error.message


def test_recbole_timestamps_out_of_range_name_the_line(write):
    path = write("rb/x.inter", "user_id:token\titem_id:token\ttimestamp:float\nu1\ti1\t5\nu1\ti2\t1e19\n")
    assert str(parse_error(path)).startswith("x.inter line 3: timestamp '1e+19' is outside the years 1-9999")


def test_a_quote_left_open_names_its_line(write):
    path = write("c/log.csv", 'user,item,title\nu1,i1,"Heat\nu2,i2,Ronin\nu3,i3,Alien\n')
    assert str(parse_error(path)) == "log.csv line 2: a quote opened on this line is never closed"


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("user,item,rating\nu1,i1,4\nu1,i2,\nu1,i3,good\n", "log.csv line 4: rating 'good' is not a number",
                 id="bad-after-empty"),
    pytest.param("user,item,rating\nu1,i1,\nu1,i2,inf\n", "log.csv line 3: rating 'inf' is not a number", id="inf"),
    pytest.param("user,item,timestamp,rating\nu1,i1,1,4\nu1,i2,,4\n", "log.csv line 3: timestamp is empty",
                 id="empty-time"),
])
def test_an_optional_rating_still_refuses_what_is_not_a_number(write, text, expected):
    assert str(parse_error(write("c/log.csv", text))) == expected


@pytest.mark.parametrize(("inter", "expected"), [
    pytest.param(INTER_HEADER + "1\t2\t\t4\n1\t2\tx\t4\n", "x.inter line 3: rating 'x' is not a number", id="rating"),
    pytest.param(INTER_HEADER + "1\t2\t3\t4\n1\t2\t3\t\n", "x.inter line 3: timestamp is empty", id="empty-time"),
    pytest.param(INTER_HEADER + "1\t2\t\t4\n1\t2\t3\n",
                 "x.inter line 3: expected 4 fields separated by tabs, found 3 (truncated line?)", id="short"),
])
def test_recbole_empty_ratings_do_not_hide_bad_lines(write, inter, expected):
    assert str(parse_error(write("rb/x.inter", inter))) == expected


@pytest.mark.parametrize(("files", "chosen", "expected"), [
    pytest.param({"log.csv": "user,item\nu1,i1\n"}, "recbole",
                 "the chosen format, RecBole atomic files, needs a .inter file (optionally .item and .user); "
                 "found log.csv, which looks like generic CSV (choose that format, or let it be detected)", id="csv"),
    pytest.param({"x.inter": "user_id:token\titem_id:token\n1\t2\n", "x.item": "item_id:token\n2\n"}, "csv",
                 "the chosen format, generic CSV, needs a .csv file with a user,item[,timestamp][,rating][,title]"
                 "[,categories] header; found x.inter, x.item, which look like RecBole atomic files", id="recbole"),
    pytest.param({"notes.md": "hello\n"}, "sasrec",
                 "the chosen format, SASRec user-item lines, needs one .txt file of 'user item' lines; found notes.md, "
                 "which matches no format the importer reads", id="unknown"),
])
def test_files_that_do_not_match_the_chosen_format_say_what_was_expected_and_found(write, tmp_path, files, chosen,
                                                                                   expected):
    for name, text in files.items():
        write(f"up/{name}", text)
    error = parse_error(tmp_path / "up", format=chosen)
    assert error.message.startswith(expected) and error.line is None


def test_a_single_file_in_another_format_than_chosen_says_what_it_looks_like(write):
    error = parse_error(write("s/seq.txt", "1 2\n1 3\n"), format="csv")
    assert str(error).startswith("seq.txt: the chosen format, generic CSV, needs a .csv file")
    assert error.message.endswith("found seq.txt, which looks like SASRec user-item lines (choose that format, or let "
                                  "it be detected)")


def test_files_of_several_formats_together_are_refused_naming_each(write, tmp_path, ml_latest_dir, ml100k_dir):
    from recsys.importers import check_one_format

    write("up/x.inter", "user_id:token\titem_id:token\n1\t2\n")
    write("up/log.csv", "user,item\nu1,i1\n")
    with pytest.raises(ImportFormatError) as caught:
        check_one_format(tmp_path / "up")
    assert caught.value.message == ("files of different formats: log.csv (generic CSV), x.inter (RecBole atomic "
                                    "files); upload one dataset's files, all in one format")
    check_one_format(ml_latest_dir)  # movies.csv and tags.csv are part of it
    check_one_format(ml100k_dir)
