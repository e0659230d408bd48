"""The number grammar of docs/protocol.md §1.1, for every number in either direction: an
optional '-', 1 to 9 ASCII digits, and (decimals only) a point and 1 to 3 digits; and the
token grammar of names. Hand parsed: MicroPython's `re` has no counted repetition.
"""

_DIGITS = "0123456789"
_POW10 = (1, 10, 100, 1000)


def all_in(text, allowed):
    """True when every item of `text` is in `allowed`."""
    for c in text:  # noqa: SIM110 (a loop: faster than all() on a generator, in both)
        if c not in allowed:
            return False
    return True


def parse_int(text):
    """The int `text` spells in the grammar, or None."""
    body = text[1:] if text[:1] == "-" else text
    if 0 < len(body) <= 9 and all_in(body, _DIGITS):
        return int(text)
    return None


def parse_decimal(text):
    """The float `text` spells in the grammar (correctly rounded, as CPython's float()),
    or None. Computed as digits / 10**k: both exact in a double, so one rounding."""
    neg = text[:1] == "-"
    whole, dot, frac = (text[1:] if neg else text).partition(".")
    if not (0 < len(whole) <= 9 and all_in(whole, _DIGITS)):
        return None
    if dot:
        if not (0 < len(frac) <= 3 and all_in(frac, _DIGITS)):
            return None
        value = int(whole + frac) / _POW10[len(frac)]
    else:
        value = float(int(whole))
    return -value if neg else value


_TOKEN_REST = "abcdefghijklmnopqrstuvwxyz0123456789-"


def parse_token(text):
    """`text` when it is a token (a-z, then up to 15 of a-z, 0-9, '-'), or None."""
    if 0 < len(text) <= 16 and "a" <= text[0] <= "z" and all_in(text, _TOKEN_REST):
        return text
    return None


#: Each argument type's parser: the value, or None for text outside the grammar.
PARSERS = {"int": parse_int, "float": parse_decimal, "str": parse_token}


def is_int_text(text):
    """True when `text` is an integer of the grammar."""
    return parse_int(text) is not None


def is_decimal_text(text):
    """True when `text` is a decimal of the grammar."""
    return parse_decimal(text) is not None
