// Benchmark device (bench/espruino.ts): registers, prints the time from start() to Registered, then on
// Execute /3/0/5 sends __UPDATES__ Updates one after another and, on Execute /3/0/6, changes /3303/0/5700
// __CHANGES__ times (one per 30 ms), printing process.memory().usage before and after each run.
E.setFlags({ pretokenise: 1 });
setTimeout(() => {
  var L = require('lwm2m');
  var c = new L.Lwm2mClient({ endpoint: '__EP__', host: '127.0.0.1', port: __PORT__, lifetime: 300 });
  var temp = 20;
  var n = 0;
  var t0;
  var peak = 0;
  function mem(tag) {
    var u = process.memory().usage;
    if (u > peak) peak = u;
    print(tag + ' ' + u + ' PEAK ' + peak);
  }
  c.addInstance(3, 0, {
    0: 'Thimble',
    5: {
      execute: () => {
        mem('U0');
        n = 0;
        c.update();
      },
    },
    6: {
      execute: () => {
        mem('N0');
        var k = 0;
        var i = setInterval(() => {
          temp = temp + 0.5;
          c.changed('/3303/0/5700');
          if (++k == __CHANGES__) {
            clearInterval(i);
            setTimeout(() => mem('N1'), 500);
          }
        }, 30);
      },
    },
    16: 'U',
  });
  c.addInstance(3303, 0, { 5700: { read: () => temp, type: 'f' } });
  c.on('registered', () => {
    print('REGMS ' + (Date.now() - t0));
    mem('REG');
  });
  c.on('updated', () => {
    if (++n < __UPDATES__) return c.update();
    mem('U1');
  });
  mem('LOAD');
  t0 = Date.now();
  c.start();
}, 1);
