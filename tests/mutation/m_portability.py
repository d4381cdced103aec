"""Mutations of what wxpay does where POSIX is missing (Windows desktops, issue 18): msvcrt's
lock, the claim file removed once closed, pread's fallback, signals handed to the event
loop by a plain handler, and type-ahead dropped from a Windows console."""

TESTS = ['tests/test_portability.py', 'tests/test_binding_and_replay.py', 'tests/test_local_state.py',
         'tests/test_one_operator_per_pupil.py']

MUTATIONS = [
    # (path, original, replacement, why)
    ('wxpay_cli/local/locks.py',
     '        if exc.errno in _BUSY:',
     '        if False:',
     "a lock another run holds on Windows taken for a failure, not for busy"),
    ('wxpay_cli/local/locks.py',
     '    os.lseek(fd, WINDOWS_BYTE, os.SEEK_SET)',
     '    pass',
     'the Windows lock taken wherever the file position is (and not released once it moved)'),
    ('wxpay_cli/local/locks.py',
     '        os.lseek(fd, position, os.SEEK_SET)',
     '        pass',
     "taking the Windows lock moves the file's position"),
    ('wxpay_cli/local/attempts.py',
     '                    remove_after = True',
     '                    pass',
     'claim files pile up on Windows (the next run looks at 1000 at most)'),
    ('wxpay_cli/local/files.py',
     '    os.lseek(fd, offset, os.SEEK_SET)\n    return os.read(fd, size)',
     '    return os.read(fd, size)',
     'without pread, state files read from wherever the position is'),
    ('wxpay_cli/terminal/signals.py',
     '                signal.signal(number, _handing_to(loop, callback, reported))',
     '                pass',
     'Ctrl-C on Windows cancels a batch (a POST in flight among it) instead of stopping it'),
    ('wxpay_cli/terminal/prompt.py',
     '        _flush_console()\n',
     '        pass\n',
     "a y typed ahead on a Windows console answers the termination question"),
    ('wxpay_cli/local/nonces.py',
     '            finally:\n                os.close(fd)\n            if self._offset',
     '            finally:\n                pass\n            if self._offset',
     'the nonce file kept open: Windows cannot replace it, so the memory stops at the first pruning'),
]
