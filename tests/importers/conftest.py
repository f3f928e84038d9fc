"""Fixtures writing small dataset slices in the exact on-disk formats (MovieLens data is never copied)."""

from __future__ import annotations

from pathlib import Path

import pytest

GENRES_19 = (
    "unknown|0\nAction|1\nAdventure|2\nAnimation|3\nChildren's|4\nComedy|5\nCrime|6\nDocumentary|7\n"
    "Drama|8\nFantasy|9\nFilm-Noir|10\nHorror|11\nMusical|12\nMystery|13\nRomance|14\nSci-Fi|15\n"
    "Thriller|16\nWar|17\nWestern|18\n\n"
)


def flags(*indices: int) -> str:
    return "|".join("1" if index in indices else "0" for index in range(19))


@pytest.fixture
def write(tmp_path: Path):
    """write("dir/name", text, encoding="utf-8", newline="\\n") -> path of the written file."""

    def _write(relative: str, text: str, encoding: str = "utf-8", newline: str = "\n") -> Path:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.replace("\n", newline).encode(encoding))
        return path

    return _write


@pytest.fixture
def ml100k_dir(write, tmp_path: Path) -> Path:
    write("ml-100k/u.data", "1\t10\t5\t881250949\n1\t543\t3\t881250950\n2\t10\t4\t881250000\n2\t99\t2\t881250001\n")
    write(
        "ml-100k/u.item",
        f"10|Richard III (1995)|22-Jan-1996||http://us.imdb.com/x|{flags(8, 17)}\n"
        f"543|Misérables, Les (1995)|01-Jan-1995||http://us.imdb.com/y|{flags(8, 12)}\n"
        f"267|unknown||||{flags(0)}\n",
        encoding="latin-1",
    )
    write("ml-100k/u.genre", GENRES_19)
    write("ml-100k/u.user", "1|24|M|technician|85711\n2|53|F|other|94043\n")
    return tmp_path / "ml-100k"


@pytest.fixture
def ml1m_dir(write, tmp_path: Path) -> Path:
    write("ml-1m/ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n")
    write(
        "ml-1m/movies.dat",
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
        "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
        "73::Misérables, Les (1995)::Drama|Musical\n",
        encoding="latin-1",
    )
    write("ml-1m/users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n")
    return tmp_path / "ml-1m"


@pytest.fixture
def ml_latest_dir(write, tmp_path: Path) -> Path:
    crlf = "\r\n"
    write(
        "ml-latest/ratings.csv",
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,73,3.5,964981247\n2,114335,0.5,1445714994\n",
        newline=crlf,
    )
    write(
        "ml-latest/movies.csv",
        "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
        '73,"Misérables, Les (1995)",Drama|War\n114335,La cravate (1957),(no genres listed)\n',
        newline=crlf,
    )
    write("ml-latest/tags.csv", 'userId,movieId,tag,timestamp\n2,73,"sad, but good",1445714996\n', newline=crlf)
    write("ml-latest/links.csv", "movieId,imdbId,tmdbId\n1,0114709,862\n", newline=crlf)
    return tmp_path / "ml-latest"


@pytest.fixture
def recbole_dir(write, tmp_path: Path) -> Path:
    write(
        "rb/ml-100k.inter",
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        "196\t242\t3\t881250949\n186\t302\t3.5\t891717742.0\n196\t999\t1\t881250950\n",
    )
    write(
        "rb/ml-100k.item",
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        "242\tKolya\t1996\tComedy\n302\tMisérables, Les\t1995\tDrama Musical\n267\tunkonwn\tunkonwn\tunknown\n",
    )
    write(
        "rb/ml-100k.user",
        "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
        "196\t49\tM\twriter\t05009\n186\t39\tF\texecutive\t00000\n",
    )
    return tmp_path / "rb"
