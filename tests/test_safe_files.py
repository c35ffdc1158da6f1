"""The one way in for files the app did not write, and the checks on text from outside.

A file is read only if it is a regular file (a FIFO, a device, a socket or a folder is refused
at once, never waited on), within the folder it is named in when one is given (a link leading
out, or to itself, is refused), and within its size; every refusal is one line naming the
file, escaped. Text to keep is well-formed, free of control characters and bounded; text to
show has its control characters escaped.
"""

from __future__ import annotations

import os
import socket
import time

import pytest

from tl_active.errors import FileRefusedError, TlActiveError
from tl_active.safe_files import LINK_LOOP, LINK_OUTSIDE, is_within, open_regular, read_regular
from tl_active.text import check_text, shown, text_problem


def _refused(path, **kwargs) -> FileRefusedError:
    start = time.perf_counter()
    with pytest.raises(FileRefusedError) as caught:
        read_regular(path, **kwargs)
    assert time.perf_counter() - start < 1.0
    message = str(caught.value)
    assert "\n" not in message and message.startswith("cannot read the ")
    assert isinstance(caught.value, TlActiveError)
    return caught.value


def test_a_regular_file_is_read_whole_and_through_a_link_within_its_folder(tmp_path):
    (tmp_path / "a.json").write_bytes(b"{}")
    os.symlink("a.json", tmp_path / "b.json")
    assert read_regular(tmp_path / "a.json") == b"{}"
    assert read_regular(tmp_path / "b.json", within=tmp_path) == b"{}"
    with open_regular(tmp_path / "a.json", max_bytes=2) as handle:
        assert handle.read() == b"{}"


def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path):
    os.mkfifo(tmp_path / "two.png")
    refused = _refused(tmp_path / "two.png", what="image")
    assert refused.reason == "not a regular file (a FIFO)"
    assert str(refused).startswith("cannot read the image ")


def test_a_device_a_socket_a_folder_and_a_missing_file_are_refused(tmp_path):
    assert _refused("/dev/zero").reason == "not a regular file (a device)"
    assert _refused(tmp_path).reason == "a folder, not a file"
    assert _refused(tmp_path / "nothing.json").reason == "no such file"
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(tmp_path / "s.json"))
        assert _refused(tmp_path / "s.json").reason == "not a regular file (a socket)"


def test_a_link_out_of_its_folder_or_to_itself_is_refused(tmp_path):
    inside, outside = tmp_path / "inside", tmp_path / "secret.png"
    inside.mkdir()
    outside.write_bytes(b"secret")
    os.symlink(outside, inside / "link.png")
    os.symlink("loop.png", inside / "loop.png")
    os.mkdir(tmp_path / "inside-too")  # a neighbour whose name begins as the folder's
    (tmp_path / "inside-too" / "x.png").write_bytes(b"x")
    os.symlink(tmp_path / "inside-too" / "x.png", inside / "neighbour.png")
    assert _refused(inside / "link.png", within=inside).reason == LINK_OUTSIDE
    assert _refused(inside / "neighbour.png", within=inside).reason == LINK_OUTSIDE
    assert _refused(inside / "loop.png", within=inside).reason == LINK_LOOP
    assert _refused(inside / "loop.png").reason == LINK_LOOP
    assert read_regular(inside / "link.png") == b"secret"  # no folder given: links are followed
    assert is_within(inside, inside) and not is_within(tmp_path, inside)


def test_a_file_over_its_size_is_refused_before_it_is_read(tmp_path):
    (tmp_path / "big.json").write_bytes(b"x" * 101)
    refused = _refused(tmp_path / "big.json", max_bytes=100)
    assert refused.reason == "101 bytes; at most 100 are taken"
    assert read_regular(tmp_path / "big.json", max_bytes=101) == b"x" * 101


def test_a_file_name_with_terminal_escapes_is_escaped_in_the_message(tmp_path):
    name = "\x1b[2J\x1b]0;owned\x07\u202egnp.json"
    refused = _refused(tmp_path / name)
    assert "\x1b" not in str(refused) and "\u202e" not in str(refused)
    assert "\\x1b[2J\\x1b]0;owned\\x07\\u202egnp.json" in str(refused)


def test_text_to_keep_must_be_well_formed_free_of_controls_and_bounded():
    assert text_problem("closest to p = 0.5", 200) is None
    assert text_problem("pösitive 🙂 0\u0301", 200) is None
    assert text_problem("\ud800", 200) == "is not well-formed Unicode (a lone surrogate, U+D800)"
    for control in ("\x00", "\x1b", "\n", "\x7f", "\x85", "\u202e", "\u2066", "\u2069"):
        problem = text_problem(f"a{control}b", 200)
        assert problem == f"holds a control character (U+{ord(control):04X})"
    assert text_problem("x" * 201, 200) == "is 201 characters long; at most 200 are taken"
    with pytest.raises(ValueError, match=r"^round 3: reasons holds a control character"):
        check_text(["fine", "not\x00fine"], "round 3: reasons", 200)
    check_text(["fine", "also fine"], "round 3: reasons", 200)


def test_text_to_show_has_its_controls_and_surrogates_escaped():
    assert shown("plain ünïcode 🙂") == "plain ünïcode 🙂"
    assert shown("a\x1b[31mred\x00\u202e") == "a\\x1b[31mred\\x00\\u202e"
    # A file name that is not UTF-8, as os.fsdecode gives it (surrogate escapes).
    assert shown(os.fsdecode(b"caf\xe9.png")) == "caf\\udce9.png"
