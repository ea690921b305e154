import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockedReason, isBlockedAddress, parseHostLiteral } from './ip-address.ts';

test('parseHostLiteral: every IPv4 spelling browsers and inet_aton accept', () => {
  const cases: [string, string][] = [
    ['127.0.0.1', '127.0.0.1'],
    ['127.0.0.1.', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['0177.0000.0.01', '127.0.0.1'],
    ['017700000001', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['0X7F.0.0.1', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['0x7f.0x0.0x0.0x1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['10.1.1', '10.1.0.1'],
    ['10.0x10203', '10.1.2.3'],
    ['192.168.257', '192.168.1.1'],
    ['169.254.169.254', '169.254.169.254'],
    ['0', '0.0.0.0'],
    ['0x', '0.0.0.0'],
    ['4294967295', '255.255.255.255'],
    ['8.8.8.8', '8.8.8.8'],
    ['1.2.3.0377', '1.2.3.255'],
  ];
  for (const [input, address] of cases) {
    assert.deepEqual(parseHostLiteral(input), { family: 4, address }, input);
  }
});

test('parseHostLiteral: names and malformed numbers are not literals', () => {
  const names = [
    '',
    '.',
    'example.com',
    'localhost',
    '127.0.0.1.nip.io',
    '1.2.3.4.5',
    '4294967296',
    '256.0.0.1',
    '1.256.0.1',
    '1.2.65536',
    '1.16777216',
    '08.0.0.1',
    '0x7g.0.0.1',
    '1..2.3',
    '1.2.3.4..',
    '-1.2.3.4',
    '1e3',
    '0x1.example',
    '١٢٧.0.0.1',
  ];
  for (const name of names) assert.equal(parseHostLiteral(name), null, name);
});

test('parseHostLiteral: IPv6 with or without brackets, canonicalised (RFC 5952)', () => {
  const cases: [string, string][] = [
    ['::1', '::1'],
    ['[::1]', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['::', '::'],
    ['[::ffff:127.0.0.1]', '::ffff:7f00:1'],
    ['::ffff:7f00:1', '::ffff:7f00:1'],
    ['::FFFF:7F00:0001', '::ffff:7f00:1'],
    ['0:0:0:0:0:ffff:10.0.0.1', '::ffff:a00:1'],
    ['::127.0.0.1', '::7f00:1'],
    ['64:ff9b::192.168.0.1', '64:ff9b::c0a8:1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    ['fe80::1', 'fe80::1'],
    ['2606:4700:4700::1111', '2606:4700:4700::1111'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1::', '1::'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
  ];
  for (const [input, address] of cases) {
    assert.deepEqual(parseHostLiteral(input), { family: 6, address }, input);
  }
  const bad = [
    '[::1',
    '::1]',
    '[]',
    ':::',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1::2::3',
    ':1',
    '1:',
    '12345::',
    'g::1',
    'fe80::1%eth0',
    '::ffff:127.0.0.01',
    '::ffff:127.1',
    '::ffff:1.2.3.256',
    '1.2.3.4::',
    '1:2:3:4:5:6:7::8',
  ];
  for (const input of bad) assert.equal(parseHostLiteral(input), null, input);
});

test('isBlockedAddress: IPv4 ranges', () => {
  const blocked = [
    '0.0.0.0',
    '0.255.255.255',
    '10.0.0.0',
    '10.255.255.255',
    '100.64.0.0',
    '100.127.255.255',
    '127.0.0.1',
    '127.255.255.254',
    '169.254.169.254',
    '169.254.0.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.0.0.170',
    '192.168.0.1',
    '192.168.255.255',
    '198.18.0.1',
    '198.19.255.255',
    '224.0.0.1',
    '239.255.255.250',
    '240.0.0.1',
    '255.255.255.254',
    '255.255.255.255',
  ];
  for (const ip of blocked) assert.equal(isBlockedAddress(ip), true, ip);
  const open = [
    '1.1.1.1',
    '8.8.8.8',
    '9.255.255.255',
    '11.0.0.0',
    '93.184.216.34',
    '100.63.255.255',
    '100.128.0.0',
    '126.255.255.255',
    '128.0.0.0',
    '169.253.255.255',
    '169.255.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '192.0.1.0',
    '192.167.255.255',
    '192.169.0.0',
    '198.17.255.255',
    '198.20.0.0',
    '223.255.255.255',
  ];
  for (const ip of open) assert.equal(isBlockedAddress(ip), false, ip);
});

test('isBlockedAddress: IPv6 ranges and embedded IPv4', () => {
  const blocked = [
    '::1',
    '::',
    'fc00::1',
    'fd12:3456:789a::1',
    'fdff:ffff::',
    'fe80::1',
    'febf:ffff::1',
    'fec0::1',
    'feff::1',
    'ff02::1',
    'ff05::1:3',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:a00:1',
    '::ffff:169.254.169.254',
    '::ffff:0.0.0.0',
    '::ffff:0:10.0.0.1',
    '::127.0.0.1',
    '::10.0.0.1',
    '64:ff9b::127.0.0.1',
    '64:ff9b::a9fe:a9fe',
    '64:ff9b:1::8.8.8.8',
    '2002:7f00:1::',
    '2002:a00:1::1',
    '2002:c0a8:101::1',
    '2001:0:4136:e378:8000:63bf:80ff:fffe', // Teredo, client 127.0.0.1
  ];
  for (const ip of blocked) assert.equal(isBlockedAddress(ip), true, ip);
  const open = [
    '2606:4700:4700::1111',
    '2001:4860:4860::8888',
    '::ffff:8.8.8.8',
    '::ffff:5db8:d822',
    '64:ff9b::8.8.8.8',
    '2002:808:808::1',
    '2001:0:4136:e378:8000:63bf:f7f7:f7f7', // Teredo, client 8.8.8.8
    'fbff::1',
    'fe00::1',
    '2400:cb00::1',
  ];
  for (const ip of open) assert.equal(isBlockedAddress(ip), false, ip);
});

test('isBlockedAddress accepts any spelling and fails closed on garbage', () => {
  assert.equal(isBlockedAddress('2130706433'), true);
  assert.equal(isBlockedAddress('[::1]'), true);
  assert.equal(isBlockedAddress('0x08080808'), false);
  assert.equal(isBlockedAddress('not-an-ip'), true);
  assert.equal(isBlockedAddress(''), true);
});

test('blockedReason says what kind of address it is', () => {
  assert.equal(blockedReason('10.0.0.5'), 'a private address');
  assert.equal(blockedReason('127.0.0.1'), 'a loopback address');
  assert.match(blockedReason('169.254.169.254') ?? '', /link-local/);
  assert.equal(blockedReason('255.255.255.255'), 'the broadcast address');
  assert.equal(blockedReason('::1'), 'a loopback address');
  assert.equal(blockedReason('::ffff:10.0.0.5'), 'a private address (IPv4-mapped 10.0.0.5)');
  assert.equal(blockedReason('2002:c0a8:101::1'), 'a private address (6to4 192.168.1.1)');
  assert.equal(blockedReason('8.8.8.8'), null);
});
