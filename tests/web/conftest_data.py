"""Small source files in each import format, written by the tests."""

from pathlib import Path


def write_generic_csv(folder: Path, name: str = "interactions.csv") -> Path:
    path = folder / name
    path.write_text(
        "user,item,timestamp,rating,title,categories\n"
        "u1,i1,100,4,Alpha (1999),Action|Comedy\n"
        "u1,i2,100,5,Beta (2001),Drama\n"
        "u1,i3,200,3,Gamma (2003),Action\n"
        "u2,i1,150,2,Alpha (1999),Action|Comedy\n"
        "u2,i3,160,4,Gamma (2003),Action\n"
        "u2,i2,170,5,Beta (2001),Drama\n"
    )
    return path


def write_ml100k(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text("1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t888550871\n2\t3\t2\t888550871\n")
    genres = (
        "unknown|0\nAction|1\nAdventure|2\nAnimation|3\nChildren's|4\nComedy|5\nCrime|6\nDocumentary|7\n"
        "Drama|8\nFantasy|9\nFilm-Noir|10\nHorror|11\nMusical|12\nMystery|13\nRomance|14\nSci-Fi|15\n"
        "Thriller|16\nWar|17\nWestern|18\n"
    )
    (folder / "u.genre").write_text(genres)
    flags = [
        "0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0",
        "0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0",
        "0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0",
    ]
    titles = ["Toy Story (1995)", "GoldenEye (1995)", "Les Misérables (1995)"]
    lines = [f"{i + 1}|{title}|01-Jan-1995||http://x|{flag}" for i, (title, flag) in enumerate(zip(titles, flags))]
    (folder / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return folder


def write_ml1m(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ratings = "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"
    (folder / "ratings.dat").write_text(ratings)
    (folder / "movies.dat").write_bytes(
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
        "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
        "3::Misérables, Les (1995)::Drama|Musical\n".encode("latin-1")
    )
    (folder / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    return folder


def write_ml_latest(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.csv").write_bytes(
        b"userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,3,4.0,964981247\r\n2,1,3.5,1445714835\r\n"
    )
    (folder / "movies.csv").write_bytes(
        b"movieId,title,genres\r\n1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\r\n"
        b'3,"American President, The (1995)",Comedy|Drama|Romance\r\n4,Unrated (2000),(no genres listed)\r\n'
    )
    (folder / "tags.csv").write_bytes(b"userId,movieId,tag,timestamp\r\n2,1,funny,1445714994\r\n")
    return folder


def write_recbole(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t10\t5\t100\n1\t11\t4\t101\n2\t10\t3\t50\n"
    )
    (folder / "tiny.item").write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        "10\tHeat\t1995\tAction Crime\n11\tClue\t1985\tComedy\n"
    )
    return folder


def write_sasrec(folder: Path) -> Path:
    path = folder / "tiny.txt"
    path.write_text("1 1\n1 2\n1 3\n2 2\n2 1\n")
    return path
