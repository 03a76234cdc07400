// A test device for the full profile: Device (3) with its firmware version, a temperature sensor (3303)
// and Firmware Update (5, added by the client); `install` reads the version from the image's first line
// ("THIMBLE-FW <version>") in Storage. __HOST__, __PORT__, __EP__, __LIFETIME__, __EXTRA__ are filled in
// by the test.
E.setFlags({ pretokenise: 1 });
setTimeout(() => {
  var L = require('lwm2m');
  var version = '1.0.0';
  var peak = 0;
  function mem() {
    var u = process.memory().usage;
    if (u > peak) {
      peak = u;
      print('MEM ' + u);
    }
  }
  var opts = {
    endpoint: '__EP__',
    host: '__HOST__',
    port: __PORT__,
    lifetime: __LIFETIME__,
    install: (file, length, done) => {
      var head = require('Storage').read(file, 0, 64);
      var m = /^THIMBLE-FW (\S+)/.exec(head);
      print('INSTALL ' + length + ' ' + (m ? m[1] : '?'));
      if (m) version = m[1];
      done(!!m);
    },
  };
  // further options from the test (statements on opts)
  __EXTRA__;
  var c = new L.Lwm2mClient(opts);
  c.addInstance(3, 0, {
    0: 'Thimble',
    1: 'Espruino full',
    3: { read: () => version },
    4: { execute: () => c.stop(() => print('STOPPED')) },
    11: [0],
    16: 'U',
  });
  var temp = 20.5;
  c.addInstance(3303, 0, { 5700: { read: () => temp, type: 'f' }, 5701: 'Cel' });
  c.on('registered', (l) => {
    print('REG ' + l);
    mem();
  });
  c.on('updated', () => print('UPD'));
  c.on('bootstrapped', () => print('BOOTSTRAPPED'));
  c.on('error', (e) => print('ERR ' + e));
  c.on('firmware', (s, r) => {
    print('FW ' + s + ' ' + r);
    mem();
  });
  // memory while a download runs
  setInterval(mem, 200);
  c.start();
  mem();
}, 1);
