"""The firmware codec's own cases beyond the document's vectors (plain asserts; CPython and
MicroPython): the decoder's state across feeds, the number grammar, the encoders' checks."""

from firmware import codec, codes, grammar


def test_the_number_grammar():
    assert grammar.parse_int("-123456789") == -123456789 and grammar.parse_int("007") == 7
    for bad in ("", "-", "+1", "1_0", "1234567890", "0x10", "1.0", " 1", "1e3"):
        assert grammar.parse_int(bad) is None, bad
    assert grammar.parse_decimal("12.25") == 12.25 and grammar.parse_decimal("-0.5") == -0.5
    assert grammar.parse_decimal("123456789.123") == 123456789.123
    assert grammar.parse_decimal("0.1") == 0.1 and grammar.parse_decimal("5") == 5.0
    assert str(grammar.parse_decimal("-0")) == "-0.0"
    for bad in ("nan", "inf", ".5", "5.", "1.2345", "1e1", "+1.0", "1,5", "--1", "1.2.3"):
        assert grammar.parse_decimal(bad) is None, bad
    assert grammar.parse_token("knead") == "knead" and grammar.parse_token("a-1")
    for bad in ("", "Knead", "1a", "a_b", "abcdefghijklmnopq", "-a"):
        assert grammar.parse_token(bad) is None, bad


def test_a_line_across_feeds_and_an_overlong_line_reported_once():
    decoder = codec.HostDecoder()
    assert decoder.feed(b"7 ST") == [] and decoder.feed(b"OP*CA87") == []
    assert decoder.feed(b"\r\n") == [(codec.FRAME, 7, True, "STOP", ())]
    assert decoder.feed(b"A" * 200) == [] and decoder.feed(b"A" * 10 + b"\nINFO\n") == [
        (codec.BAD, codes.E_LINE_TOO_LONG, "line longer than 96 bytes", None, False, False),
        (codec.FRAME, None, False, "INFO", ())]


def test_the_session_decides_what_the_typed_stop_is():
    decoder = codec.HostDecoder(2)
    assert decoder.feed(b"!") == [(codec.RT, 0x21)]
    decoder.session = True
    assert decoder.feed(b"!\n") == [(codec.BAD, codes.E_UNKNOWN_COMMAND,
                                     "unknown command '!'", None, False, False)]
    decoder.session = False
    assert decoder.feed(b"\x9e!?") == [(codec.RT, 0x9E), (codec.RT, 0x21), (codec.RT, 0x3F)]
    v1 = codec.HostDecoder(1)
    v1.session = True
    assert v1.feed(b"!") == [(codec.RT, 0x21)]
    try:
        codec.HostDecoder(3)
    except ValueError:
        pass
    else:
        raise AssertionError("protocol 3 accepted")


def test_a_refused_sequenced_line_says_so():
    decoder = codec.HostDecoder()
    assert decoder.feed(b"7 JUMP*7305\n") == [
        (codec.BAD, codes.E_UNKNOWN_COMMAND, "unknown command 'JUMP'", 7, True, True)]
    assert decoder.feed(b"7 STATUS now\n") == [
        (codec.BAD, codes.E_BAD_ARGS, "expected 'STATUS'", 7, False, False)]
    assert decoder.feed(b"8 AIR lumbar x 1\n")[0][4:] == (False, True)


def test_the_crc_comparison_can_be_overridden():
    class IgnoreCrc(codec.HostDecoder):
        def crc_matches(self, payload, tail):
            return True

    assert IgnoreCrc().feed(b"7 STOP*0000\n") == [(codec.FRAME, 7, True, "STOP", ())]
    assert IgnoreCrc().feed(b"STATUS*f6b4\n") == [(codec.FRAME, None, True, "STATUS", ())]
    assert codec.HostDecoder().feed(b"7 STOP*0000\n")[0][1] == codes.E_BAD_CRC


def test_the_encoders_refuse_numbers_outside_the_grammar():
    nan = float("nan")
    for bad in (nan, float("inf"), 1e12):
        for call in (lambda bad=bad: codec.limit("x", bad), lambda bad=bad: codec.banner(
                2, "fw", [], [], bad, 1.0, 0), lambda bad=bad: codec.status(
                "Idle", 0.0, bad, "off", 1, 0, 1, 0.0, [0.0], [22.0], 0, 0.0, 0.0, False,
                False, [])):
            try:
                call()
            except ValueError:
                continue
            raise AssertionError("%r went on the wire" % bad)
    line = codec.status("Idle", 0.0, -0.04, "off", 1, 0, 1, -0.0, [-0.01], [22.0], 0, 0.0,
                        0.0, False, False, [codes.F_ESTOP, codes.F_DEADMAN])
    assert b" pos=0.0 " in line and b"force=0.0 " in line and b"air=0.0 " in line
    assert b"flt=F01,F02>*" in line


def test_exact_ties_round_to_even_on_every_interpreter():
    line = codec.status("Run", 0.0625, 2.25, "off", 1, 0, 1, -2.25, [2.75, 0.25], [22.0], 0,
                        1.75, -0.25, True, False, [])
    assert b"t=0.062 pos=2.2 " in line and b"force=-2.2 " in line, line
    assert b"air=2.8,0.2 " in line and b"back=1.8 leg=-0.2 " in line, line
    assert codec.limit("x", 12345.25) == b"$x=12345.2*" + (
        "%04X" % codec.crc16(b"$x=12345.2")).encode() + b"\n"
    assert b" track=0.5 seat=1234.5 " in codec.banner(2, "fw", [], [], 0.5, 1234.5, 0)


def test_free_text_is_cleaned_and_cut():
    assert codec.info("a*b\x07c\u00e9") == b"[a_b_c_]*" + (
        "%04X" % codec.crc16(b"[a_b_c_]")).encode() + b"\n"
    assert len(codec.error(1, codes.E_BAD_ARGS, "x" * 300)) < 160


def test_sequence_numbers_wrap():
    assert codec.seq_after(65535) == 0 and codec.seq_after(1, 3) == 4
    assert codec.seq_distance(0, 65535) == 1 and codec.seq_distance(65535, 0) == -1
    assert codec.seq_distance(32768, 0) == 32768 and codec.seq_distance(32769, 0) == -32767
