"""The wire end: host bytes to commands, and the session rules of docs/protocol.md.

Real-time bytes act at once (`?` a status line, a stop byte the emergency stop); each line
is then checked in order: CRC and sequence number (control and actuate lines need both,
outside console mode), duplicates answered from the reply memory without running again,
gaps refused (E05), and damaged lines counted: `bad_frames_max` within
`bad_frames_window_ms` latch F03 (safety.md rule 4). Untagged refusals of a burst of
garbage are coalesced into one line with a count (§5.1).
"""

from firmware import codec, codes
from firmware.limits import Refuse

INF = float("inf")
EPS = 1e-9
REPORT_MIN_MS = codec.REPORT_MIN_MS
REPORT_MAX_MS = codec.REPORT_MAX_MS
REPLY_MEMORY = codec.REPLY_MEMORY
QUERY_MIN_S = REPORT_MIN_MS / 1000  # `?` is answered at most once per shortest report period
DAMAGED = (codes.E_BAD_CRC, codes.E_BAD_BYTE, codes.E_LINE_TOO_LONG)
RT, FRAME, BAD = codec.RT, codec.FRAME, codec.BAD
_UNSEQUENCED = (codec.QUERY, codec.MODE)


class Wire:
    """One host session's state: sequence numbers, console mode, the reply memory, the
    report period, the `?` throttle and the bad-frame window."""

    decoder_class = codec.HostDecoder

    def __init__(self, fw):
        self.fw = fw
        self.decoder = self.decoder_class(fw.proto)
        self.expected_seq = None
        self.console = False
        self.report_ms = 0
        self.report_next = INF
        self.query_next = -INF  # the earliest a `?` is answered at once
        self.query_owed = False  # a `?` came sooner: answered at query_next
        self.crc_at = -INF  # when the last valid line with a CRC came (host session)
        self.replies = {}
        self.order = []
        self.bad_times = []
        bad_max = fw.limits["bad_frames_max"]
        self.bad_max = int(bad_max)
        self.bad_window_s = fw.limits["bad_frames_window_ms"] / 1000.0

    # ------------------------------------------------------------------ output

    def send(self, line):
        self.fw.out.push(line)
        return line

    def refuse(self, seq, code, detail):
        """An error reply; untagged ones are coalesced while one waits (returns b'')."""
        if seq is None:
            key = "damaged" if code in DAMAGED else code
            self.fw.out.merge(key, lambda n: codec.error(
                None, code, ("n=%d first: %s" % (n, detail)) if n > 1 else detail))
            return b""
        return self.send(codec.error(seq, code, detail))

    def remember(self, seq, line):
        order = self.order
        if len(order) >= REPLY_MEMORY:
            self.replies.pop(order.pop(0), None)
        order.append(seq)
        self.replies[seq] = line

    # ------------------------------------------------------------------ input

    def receive(self, data, now):
        """Host bytes at `now`: real-time bytes first, then the lines in order."""
        decoder = self.decoder
        # protocol 2: while a host session is live (a line with a valid CRC within the
        # dead-man time, console mode off), `!` is line data, not a stop
        decoder.session = not self.console and now - self.crc_at < self.fw.leases.deadman_s
        events = decoder.feed(data)
        if events:
            self.dispatch(events, now)

    def dispatch(self, events, now):
        for event in events:
            if event[0] == RT:
                self.realtime(event[1], now)
        for event in events:
            tag = event[0]
            if tag == FRAME:
                self.frame(event, now)
            elif tag == BAD:
                self.bad_line(event, now)

    def realtime(self, byte, now):
        if byte == codec.STATUS_BYTE:
            self.query(now)
        else:  # an emergency stop (the decoder reports only the stop bytes in force)
            self.fw.latch.estop(now)

    def query(self, now):
        """`?`: one status line now, or one at the end of the period if one just went."""
        if now >= self.query_next - EPS:
            self.query_next = now + QUERY_MIN_S
            self.query_owed = False  # this answer is the one owed
            self.send(self.fw.status_line(now))
        else:
            self.query_owed = True

    def state_changed(self, now):
        """A new state (a fault latched): the next `?` is answered at once."""
        if now < self.query_next:
            self.query_next = now

    def bad_line(self, event, now):
        _, code, detail, seq, crc, sequenced = event
        expected = self.expected_seq
        if seq is not None and sequenced and (crc or self.console) and expected is not None:
            # a trustworthy sequenced line that was refused: it takes its sequence number
            dist = codec.seq_distance(seq, expected)
            if dist == 0:
                self.remember(seq, self.refuse(seq, code, detail))
                self.expected_seq = codec.seq_after(seq)
            elif dist < 0 and seq in self.replies:
                self.send(self.replies[seq])
            else:
                self.refuse(seq, codes.E_SEQ_GAP, "expect=%d" % expected)
            return
        self.refuse(seq, code, detail)
        if code in DAMAGED:
            self.count_bad(now)

    def count_bad(self, now):
        """A damaged line: `bad_max` within the window latch F03."""
        times = self.bad_times
        times.append(now)
        while times and now - times[0] >= self.bad_window_s - EPS:
            times.pop(0)
        if len(times) >= self.bad_max:
            del times[:]
            self.fw.fault(codes.F_BAD_FRAMES, "n=%d within_ms=%g"
                          % (self.bad_max, self.bad_window_s * 1000))

    def frame(self, event, now):
        _, seq, crc, verb, args = event
        kind = codec.COMMANDS[verb][0]
        if crc:
            self.crc_at = now
            self.fw.leases.last_valid = now
        if kind in _UNSEQUENCED:
            if not crc and self.console:
                self.fw.leases.last_valid = now
            self.run(verb, args, seq, now)
            return
        if not crc and not self.console and self.need_crc(verb, seq):
            return
        if not crc:
            self.fw.leases.last_valid = now  # an accepted console line
        if verb == "SYNC":
            if seq is None:
                self.refuse(None, codes.E_BAD_ARGS, "SYNC needs a sequence number")
            elif self.order == [seq] and self.expected_seq == codec.seq_after(seq):
                # the reply memory holds this SYNC's `ok` alone: a resend with nothing
                # sequenced since, a duplicate (a line numbered seq since is not a SYNC)
                self.send(self.replies[seq])
            else:
                self.remember(seq, self.run(verb, args, seq, now))
            return
        if seq is None:
            if self.console:
                self.run(verb, args, None, now)
            else:
                self.refuse(None, codes.E_BAD_ARGS, verb + " needs a sequence number")
            return
        expected = self.expected_seq
        if expected is None:
            self.refuse(seq, codes.E_NOT_SYNCED, "send SYNC first")
            return
        self.sequenced(verb, args, seq, expected, now)

    def need_crc(self, verb, seq):
        """A control or actuate line without a CRC outside console mode: refused (True)."""
        self.refuse(seq, codes.E_NEED_CRC,
                    verb + " needs *CRC and a sequence number (or CONSOLE 1)")
        return True

    def sequenced(self, verb, args, seq, expected, now):
        """A control or actuate line with a trustworthy sequence number."""
        dist = codec.seq_distance(seq, expected)
        if dist == 0:
            self.expected_seq = codec.seq_after(seq)
            self.remember(seq, self.run(verb, args, seq, now))
        elif dist < 0 and seq in self.replies:
            self.send(self.replies[seq])
        else:
            self.refuse(seq, codes.E_SEQ_GAP, "expect=%d" % expected)

    def run(self, verb, args, seq, now):
        """Execute one command; its `ok` or error reply, sent (b'' when coalesced)."""
        try:
            data = self.fw.execute(verb, args, seq, now)
        except Refuse as refusal:
            return self.refuse(seq, refusal.code, refusal.detail)
        return self.send(codec.ok(seq, data or ""))

    # ------------------------------------------------------------------ session commands

    def sync(self, seq):
        self.expected_seq = codec.seq_after(seq)
        self.console = False
        self.replies.clear()
        del self.order[:]

    def set_report(self, period, now):
        if period != 0:
            self.fw.limits.check_range("REPORT", "period_ms", period, REPORT_MIN_MS,
                                       REPORT_MAX_MS)
        self.report_ms = period
        self.report_next = self.fw.first_report(now, period) if period else INF

    def tick(self, now):
        """The owed `?` answer and the periodic report."""
        if self.query_owed and now >= self.query_next - EPS:
            self.query_owed = False
            self.query(now)
        if now >= self.report_next - EPS:
            self.send(self.fw.status_line(now))
            self.report_next += self.report_ms / 1000.0
            if self.report_next <= now:
                self.report_next = now + self.report_ms / 1000.0

    def deadline(self):
        return min(self.report_next, self.query_next if self.query_owed else INF)
