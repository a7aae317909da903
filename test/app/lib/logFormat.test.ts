import assert from 'node:assert';
import { escapeLogText, formatLogRecord } from '../../../app/lib/logFormat';

describe('test/app/lib/logFormat.test.ts', () => {
  it('escapes control and bidi characters, and newlines that would start a line', () => {
    assert.strictEqual(escapeLogText('a\nb\r\nc\u0000d\u001be\u007ff\u0085g'), 'a\\nb\\r\\nc\\x00d\\x1be\\x7ff\\x85g');
    assert.strictEqual(escapeLogText('x\u202ey\u2066z\u200f\u2028w'), 'x\\u202ey\\u2066z\\u200f\\u2028w');
    assert.strictEqual(escapeLogText('tab\tkept, text kept: 中文 ✓'), 'tab\tkept, text kept: 中文 ✓');
  });

  it('keeps a stack trace\'s indented lines and drops trailing newlines', () => {
    const record = escapeLogText('nodejs.Error: bad\n2026-01-01 ERROR forged\n    at f (a.js:1:1)\n    at g (b.js:2:2)\npid: 1\nhostname: h\n');
    assert.strictEqual(record, 'nodejs.Error: bad\\n2026-01-01 ERROR forged\n    at f (a.js:1:1)\n    at g (b.js:2:2)\\npid: 1\\nhostname: h');
    for (const line of record.split('\n').slice(1)) assert.match(line, /^ /);
  });

  it('prefixes a request\'s records with its path, never its query string', () => {
    const ctx = { method: 'POST', path: '/oa/message', ip: '127.0.0.1', starttime: Date.now() };
    const line = formatLogRecord({ date: 'D', level: 'INFO', pid: 7, message: 'm\nforged', ctx });
    assert.match(line, /^D INFO 7 \[-\/127\.0\.0\.1\/-\/\d+ms POST \/oa\/message\] m\\nforged$/);
    assert.strictEqual(formatLogRecord({ date: 'D', level: 'WARN', pid: 7, message: 'no request' }), 'D WARN 7 no request');
  });
});
