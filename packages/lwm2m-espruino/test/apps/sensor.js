// A test device: objects 0/1/3 and a temperature sensor (3303), printing what happens for the test to
// read. __HOST__, __PORT__, __EP__, __LIFETIME__ are filled in by the test. The module is loaded after
// this file's text is freed (from a timer, as an onInit would), and pretokenised (as the IDE's option does).
E.setFlags({ pretokenise: 1 });
setTimeout(() => {
  var L = require('lwm2m');
  var c = new L.Lwm2mClient({ endpoint: '__EP__', host: '__HOST__', port: __PORT__, lifetime: __LIFETIME__ });
  var temp = 21.5;
  var label = 'kitchen';
  var peak = 0;
  function mem() {
    var u = process.memory().usage;
    if (u > peak) peak = u;
    print('MEM ' + u);
  }
  c.addInstance(3, 0, {
    0: 'Thimble',
    1: 'Espruino test',
    2: 'ESP-1',
    3: '1.0.0',
    4: {
      execute: function (a) {
        print('REBOOT ' + a);
        c.stop(function () {
          print('STOPPED');
          mem();
        });
      },
    },
    9: 87,
    11: [0],
    16: 'U',
  });
  c.addInstance(3303, 0, {
    5700: {
      read: function () {
        return temp;
      },
      type: 'f',
    },
    5701: 'Cel',
    5750: {
      read: function () {
        return label;
      },
      write: function (v) {
        label = v;
        print('LABEL ' + v);
      },
    },
    5605: {
      execute: function (a) {
        temp = temp + 1;
        print('BUMP ' + temp);
        c.changed('/3303/0/5700');
      },
    },
  });
  c.on('registered', function (l) {
    print('REG ' + l);
    mem();
  });
  c.on('updated', function () {
    print('UPD');
    mem();
  });
  c.on('deregistered', function () {
    print('DEREG');
  });
  c.on('error', function (e) {
    print('ERR ' + e);
  });
  c.on('operation', function (o) {
    print('OP ' + o.op + ' ' + o.path + ' ' + o.code);
    mem();
  });
  c.start();
  mem();
}, 1);
