"""The class service's store: one SQLite file per class (issue 27).

Everything the class service knows lives here, so that killing and restarting the service (a
new process on the same file) loses nothing: the questions and whether each is revealed, every
student's answer, the teacher's published states, and the counters a client long-polls on
(question ``rev``, the board's ``rev``, a channel's ``version``), which keep increasing across
restarts because they are stored, not kept in memory.

* WAL journal with ``synchronous=NORMAL``: a committed transaction is in the WAL file before the
  call returns, so a killed process (``kill -9``) loses none; only a power cut can lose the last
  ones (``FULL`` would add an fsync to every answer for a failure a lecture hall does not have).
* Students are stored under a key, ``HMAC-SHA256(server key, identity)`` truncated: never the
  cookie value or the hub user name. The server key is generated once and kept in the file's
  ``meta`` table, so the same student maps to the same key after a restart.
* Sizes are bounded: :data:`MAX_QUESTIONS`, :data:`MAX_CHANNELS`, :data:`MAX_STUDENTS`; past a
  bound a :class:`StoreLimit` is raised (the service answers 409).

Used from one thread (the service's event loop); the connection is opened with
``check_same_thread=False`` only so that tests may close it from another.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import time
from pathlib import Path

#: Where ``python -m explorer.serving.class_service`` keeps a class unless told (``--db``).
DEFAULT_PATH = Path(".classroom") / "class.sqlite"

MAX_QUESTIONS = 1000
MAX_CHANNELS = 100
#: Distinct identities that may answer. Classroom-mode student ids are chosen by the browser, so
#: without this bound anyone could grow the answers table without end with made-up ids.
MAX_STUDENTS = 2000
MAX_TEXT = 2000
MAX_CHOICE = 200
MAX_LESSON = 200
MIN_CHOICES, MAX_CHOICES = 2, 8
MAX_STATE = 4000

#: Hex digits of the HMAC kept as a student's key (128 bits: no collisions in any class).
KEY_HEX = 32

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS questions (
    qid                   TEXT PRIMARY KEY,
    seq                   INTEGER NOT NULL,         -- registration order (the board's order)
    lesson                TEXT NOT NULL,
    text                  TEXT NOT NULL,
    choices               TEXT NOT NULL,            -- JSON list of strings
    revealed              INTEGER NOT NULL DEFAULT 0,
    rev                   INTEGER NOT NULL,
    registered_by_teacher INTEGER NOT NULL DEFAULT 0,
    updated               REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS answers (
    qid     TEXT NOT NULL REFERENCES questions(qid),
    student TEXT NOT NULL,
    choice  INTEGER NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (qid, student)                      -- an answer can be changed, never multiplied
);
CREATE TABLE IF NOT EXISTS follow (
    channel TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    state   TEXT NOT NULL,
    updated REAL NOT NULL
);
"""


class StoreError(ValueError):
    """Input the store refuses (the service answers 400 with the message)."""


class StoreLimit(StoreError):
    """A size bound of the class is reached (the service answers 409 with the message)."""


class UnknownQuestion(KeyError):
    """No question with this id has been registered (the service answers 404)."""


def validate_question(text, choices, lesson):
    """Check a question's fields; returns ``(text, choices, lesson)`` or raises :class:`StoreError`.

    Parameters
    ----------
    text : str
        The question, at most :data:`MAX_TEXT` characters.
    choices : list of str
        :data:`MIN_CHOICES` to :data:`MAX_CHOICES` answers, each at most :data:`MAX_CHOICE` characters.
    lesson : str
        The lesson it belongs to, at most :data:`MAX_LESSON` characters.
    """
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise StoreError(f"text must be a non-empty string of at most {MAX_TEXT} characters")
    if (not isinstance(choices, list) or not MIN_CHOICES <= len(choices) <= MAX_CHOICES
            or not all(isinstance(c, str) and len(c) <= MAX_CHOICE for c in choices)):
        raise StoreError(f"choices must be a list of {MIN_CHOICES} to {MAX_CHOICES} strings "
                         f"of at most {MAX_CHOICE} characters")
    if not isinstance(lesson, str) or len(lesson) > MAX_LESSON:
        raise StoreError(f"lesson must be a string of at most {MAX_LESSON} characters")
    return text, list(choices), lesson


class ClassStore:
    """A class's questions, answers and followed states in one SQLite file.

    Parameters
    ----------
    path : str or pathlib.Path
        The database file; its folder is created (mode 0700) if missing. ``":memory:"`` for tests.
    """

    def __init__(self, path=DEFAULT_PATH):
        self.path = str(path)
        if self.path != ":memory:":
            folder = Path(self.path).resolve().parent
            if not folder.exists():
                folder.mkdir(parents=True, mode=0o700)
                # the default folder sits in the repository: keep the class's data out of git
                # without needing an entry in the repository's .gitignore
                (folder / ".gitignore").write_text("*\n")
        # isolation_level=None: no implicit transactions; each change below is one explicit
        # BEGIN IMMEDIATE ... COMMIT, so a write and its counter bump commit together.
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(_SCHEMA)
        with self._transaction():
            key = self._meta("server_key")
            if key is None:
                key = secrets.token_hex(32)
                self._set_meta("server_key", key)
            if self._meta("board_rev") is None:
                self._set_meta("board_rev", "0")
        self._key = bytes.fromhex(key)
        # known student keys: checked against MAX_STUDENTS without a query per answer
        self._students = {row[0] for row in self.db.execute("SELECT DISTINCT student FROM answers")}

    # ------------------------------------------------------------------ plumbing
    def close(self):
        """Close the file (the WAL is checkpointed into the main file by SQLite)."""
        self.db.close()

    def _transaction(self, write=True):
        store = self

        class _Tx:
            def __enter__(self):
                store.db.execute("BEGIN IMMEDIATE" if write else "BEGIN")

            def __exit__(self, exc_type, exc, tb):
                store.db.execute("ROLLBACK" if exc_type else "COMMIT")
                return False

        return _Tx()

    def _meta(self, key):
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key, value):
        self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, str(value)))

    def _bump_board(self):
        rev = int(self._meta("board_rev")) + 1
        self._set_meta("board_rev", rev)
        return rev

    def derived_secret(self, purpose):
        """A secret of this class for ``purpose`` (e.g. the hub cookie secret), stable across restarts."""
        return hmac.new(self._key, b"purpose:" + purpose.encode(), hashlib.sha256).digest()

    def student_key(self, identity):
        """The stored key of an identity: ``HMAC-SHA256(server key, identity)``, truncated.

        Parameters
        ----------
        identity : str
            What the service authenticated (a classroom student id, a hub user name), namespaced
            by the caller so that the two kinds never collide.
        """
        return hmac.new(self._key, identity.encode("utf-8"), hashlib.sha256).hexdigest()[:KEY_HEX]

    @staticmethod
    def pseudonym(student_key):
        """What the teacher sees for a student: ``s-`` and six hex digits of the stored key."""
        return "s-" + student_key[:6]

    # ------------------------------------------------------------------ questions
    def board_rev(self):
        """The board's revision: bumped by every registration, answer change and reveal."""
        return int(self._meta("board_rev"))

    def register_question(self, qid, text, choices, lesson, by_teacher):
        """Register a question if new; a teacher's registration overwrites an existing one's text.

        Parameters
        ----------
        qid : str
            The question's id (validated by the service).
        text, choices, lesson
            As in :func:`validate_question`.
        by_teacher : bool
            A student's registration never changes an existing question (the first to open the
            lesson registers it, and the teacher's copy wins).

        Returns
        -------
        bool
            Whether anything changed (and the board's revision was bumped).
        """
        text, choices, lesson = validate_question(text, choices, lesson)
        now = time.time()
        with self._transaction():
            row = self.db.execute("SELECT text, choices, lesson, registered_by_teacher FROM questions "
                                  "WHERE qid = ?", (qid,)).fetchone()
            if row is None:
                (count, last) = self.db.execute("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM questions").fetchone()
                if count >= MAX_QUESTIONS:
                    raise StoreLimit(f"this class has the maximum of {MAX_QUESTIONS} questions")
                self.db.execute(
                    "INSERT INTO questions (qid, seq, lesson, text, choices, revealed, rev, registered_by_teacher,"
                    " updated) VALUES (?, ?, ?, ?, ?, 0, 1, ?, ?)",
                    (qid, last + 1, lesson, text, json.dumps(choices), int(bool(by_teacher)), now))
                self._bump_board()
                return True
            if not by_teacher:
                return False
            if (row[0], json.loads(row[1]), row[2]) == (text, choices, lesson):
                if not row[3]:
                    self.db.execute("UPDATE questions SET registered_by_teacher = 1 WHERE qid = ?", (qid,))
                return False
            self.db.execute("UPDATE questions SET text = ?, choices = ?, lesson = ?, registered_by_teacher = 1,"
                            " rev = rev + 1, updated = ? WHERE qid = ?",
                            (text, json.dumps(choices), lesson, now, qid))
            # an answer whose index the new choices no longer have would count nowhere
            self.db.execute("DELETE FROM answers WHERE qid = ? AND choice >= ?", (qid, len(choices)))
            self._bump_board()
            return True

    def question(self, qid, student=None):
        """A question's state for one participant.

        Returns
        -------
        dict or None
            ``{"qid", "revealed", "my_choice", "rev"}``; None for an unknown id.
        """
        row = self.db.execute("SELECT revealed, rev FROM questions WHERE qid = ?", (qid,)).fetchone()
        if row is None:
            return None
        mine = None
        if student is not None:
            found = self.db.execute("SELECT choice FROM answers WHERE qid = ? AND student = ?",
                                    (qid, student)).fetchone()
            mine = found[0] if found else None
        return {"qid": qid, "revealed": bool(row[0]), "my_choice": mine, "rev": row[1]}

    def question_rev(self, qid):
        """The question's revision, or None for an unknown id."""
        row = self.db.execute("SELECT rev FROM questions WHERE qid = ?", (qid,)).fetchone()
        return row[0] if row else None

    def answer(self, qid, student, choice):
        """Record (or change) a participant's answer.

        Parameters
        ----------
        qid : str
        student : str
            The stored key (:meth:`student_key`).
        choice : int
            Index into the question's choices.

        Returns
        -------
        bool
            Whether the recorded answer changed (a re-sent identical answer changes nothing).

        Raises
        ------
        UnknownQuestion
            No such question.
        StoreError
            ``choice`` is not an index of the question's choices.
        StoreLimit
            A new participant past :data:`MAX_STUDENTS`.
        """
        if isinstance(choice, bool) or not isinstance(choice, int):
            raise StoreError("choice must be an integer")
        with self._transaction():
            row = self.db.execute("SELECT choices FROM questions WHERE qid = ?", (qid,)).fetchone()
            if row is None:
                raise UnknownQuestion(qid)
            n = len(json.loads(row[0]))
            if not 0 <= choice < n:
                raise StoreError(f"choice must be between 0 and {n - 1}")
            if student not in self._students and len(self._students) >= MAX_STUDENTS:
                raise StoreLimit(f"this class has the maximum of {MAX_STUDENTS} participants")
            old = self.db.execute("SELECT choice FROM answers WHERE qid = ? AND student = ?",
                                  (qid, student)).fetchone()
            if old is not None and old[0] == choice:
                return False
            self.db.execute("INSERT INTO answers (qid, student, choice, updated) VALUES (?, ?, ?, ?) "
                            "ON CONFLICT(qid, student) DO UPDATE SET choice = excluded.choice,"
                            " updated = excluded.updated", (qid, student, choice, time.time()))
            self._bump_board()
        self._students.add(student)
        return True

    def reveal(self, qid, revealed):
        """Reveal (or hide again) a question's answer; returns the question's revision.

        The revision is bumped only when the flag changes, so that a second click wakes nobody.

        Raises
        ------
        UnknownQuestion
        """
        with self._transaction():
            row = self.db.execute("SELECT revealed, rev FROM questions WHERE qid = ?", (qid,)).fetchone()
            if row is None:
                raise UnknownQuestion(qid)
            if bool(row[0]) == bool(revealed):
                return row[1]
            self.db.execute("UPDATE questions SET revealed = ?, rev = rev + 1, updated = ? WHERE qid = ?",
                            (int(bool(revealed)), time.time(), qid))
            self._bump_board()
            return row[1] + 1

    def board(self):
        """The teacher's board: ``(rev, questions)`` in registration order, with counts per choice."""
        with self._transaction(write=False):   # one snapshot: the revision matches the counts
            rev = self.board_rev()
            counts = {}
            for qid, choice, n in self.db.execute("SELECT qid, choice, COUNT(*) FROM answers GROUP BY qid, choice"):
                counts.setdefault(qid, {})[choice] = n
            questions = []
            for qid, lesson, text, choices, revealed in self.db.execute(
                    "SELECT qid, lesson, text, choices, revealed FROM questions ORDER BY seq"):
                choices = json.loads(choices)
                per = [counts.get(qid, {}).get(i, 0) for i in range(len(choices))]
                questions.append({"qid": qid, "lesson": lesson, "text": text, "choices": choices,
                                  "counts": per, "answered": sum(per), "revealed": bool(revealed)})
        return rev, questions

    def students(self):
        """Who answered, as pseudonyms: ``[{"student": "s-1a2b3c", "answers": n}]``, most answers first."""
        rows = self.db.execute("SELECT student, COUNT(*) FROM answers GROUP BY student "
                               "ORDER BY COUNT(*) DESC, student").fetchall()
        return [{"student": self.pseudonym(key), "answers": n} for key, n in rows]

    # ------------------------------------------------------------------ follow the teacher
    def publish(self, channel, state):
        """Publish the teacher's state on a channel; returns its new version (previous + 1).

        Raises
        ------
        StoreError
            ``state`` is not a string of at most :data:`MAX_STATE` characters.
        StoreLimit
            A new channel past :data:`MAX_CHANNELS`.
        """
        if not isinstance(state, str) or len(state) > MAX_STATE:
            raise StoreError(f"state must be a string of at most {MAX_STATE} characters")
        with self._transaction():
            row = self.db.execute("SELECT version FROM follow WHERE channel = ?", (channel,)).fetchone()
            if row is None:
                (count,) = self.db.execute("SELECT COUNT(*) FROM follow").fetchone()
                if count >= MAX_CHANNELS:
                    raise StoreLimit(f"this class has the maximum of {MAX_CHANNELS} channels")
                version = 1
                self.db.execute("INSERT INTO follow (channel, version, state, updated) VALUES (?, 1, ?, ?)",
                                (channel, state, time.time()))
            else:
                version = row[0] + 1
                self.db.execute("UPDATE follow SET version = ?, state = ?, updated = ? WHERE channel = ?",
                                (version, state, time.time(), channel))
        return version

    def follow(self, channel):
        """A channel's ``(version, state)``; ``(0, None)`` when never published."""
        row = self.db.execute("SELECT version, state FROM follow WHERE channel = ?", (channel,)).fetchone()
        return (row[0], row[1]) if row else (0, None)
