#!/usr/bin/python3
"""Runner for the end-to-end suite: unittest, one line per test, a summary.

usage: suite.py [--url URL] [-k SUBSTRING] [--label LABEL] [test_module ...]

Runs every test_*.py beside this file (or the named modules) against the
registry at --url (default $BERTH_URL).  Prints one line per test
("PASS", "FAIL", "ERROR", "SKIP"), the failure transcripts, and as its last
line "N passed, N failed".  Exit status 1 when anything failed.
"""

import argparse
import os
import sys
import time
import unittest

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))


class LineResult(unittest.TestResult):
    def __init__(self, label, stream):
        super().__init__()
        self.label = label
        self.stream = stream
        self.passed = 0
        self.failed_ids = []
        self.skipped_ids = []
        self.reports = []
        self._start = 0.0
        self._bad = False

    def startTest(self, test):
        super().startTest(test)
        self._start = time.monotonic()
        self._bad = False

    def _line(self, word, test, extra=""):
        ms = (time.monotonic() - self._start) * 1000
        self.stream.write("%s%-5s %s (%.0f ms)%s\n" % (
            ("[%s] " % self.label) if self.label else "", word, test.id(), ms, extra))
        self.stream.flush()

    def _record_bad(self, word, test, err):
        text = self._exc_info_to_string(err, test)
        self.reports.append((word, test.id(), text))
        if not self._bad:
            self._bad = True
            self.failed_ids.append(test.id())

    def addSuccess(self, test):
        super().addSuccess(test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record_bad("FAIL", test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._record_bad("ERROR", test, err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            word = "FAIL" if issubclass(err[0], test.failureException) else "ERROR"
            text = self._exc_info_to_string(err, test)
            self.reports.append((word, subtest.id(), text))
            if not self._bad:
                self._bad = True
                self.failed_ids.append(test.id())

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.skipped_ids.append(test.id())
        self._line("SKIP", test, " -- " + reason)

    def stopTest(self, test):
        super().stopTest(test)
        if test.id() in self.skipped_ids:
            return
        if self._bad:
            self._line("FAIL", test)
        else:
            self.passed += 1
            self._line("PASS", test)
        self._bad = False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=None)
    ap.add_argument("-k", dest="pattern", default=None)
    ap.add_argument("--label", default="")
    ap.add_argument("modules", nargs="*")
    args = ap.parse_args()
    if args.url:
        os.environ["BERTH_URL"] = args.url
    sys.path.insert(0, HERE)

    loader = unittest.TestLoader()
    if args.pattern:
        loader.testNamePatterns = ["*%s*" % args.pattern]
    if args.modules:
        names = [m[:-3] if m.endswith(".py") else m for m in args.modules]
        names = [os.path.basename(n) for n in names]
        suite = unittest.TestSuite(loader.loadTestsFromName(n) for n in names)
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)

    result = LineResult(args.label, sys.stdout)
    suite.run(result)

    for word, tid, text in result.reports:
        sys.stdout.write("\n==== %s %s\n%s" % (word, tid, text))
    failed = len(result.failed_ids)
    sys.stdout.write("\n%d skipped\n" % len(result.skipped_ids))
    if failed:
        sys.stdout.write("failed tests:\n")
        for tid in result.failed_ids:
            sys.stdout.write("  %s\n" % tid)
    sys.stdout.write("%d passed, %d failed\n" % (result.passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
