// A test device for the full profile's Create, Delete and Send: Device (3) and a temperature sensor
// (3303) whose instances the server may create and delete; executing /3303/0/5605 makes the device Send
// (LwM2M TS Core 1.1 §6.4.3) /3303/0/5700 and /3/0/3. __HOST__, __PORT__, __EP__ are filled in by the test.
E.setFlags({ pretokenise: 1 });
setTimeout(() => {
  var L = require('lwm2m');
  var c = new L.Lwm2mClient({ endpoint: '__EP__', host: '__HOST__', port: __PORT__, lifetime: 60 });
  var temp = 19.25;
  c.addInstance(3, 0, { 0: 'Thimble', 1: 'Espruino ops', 3: '1.0.0', 11: [0], 16: 'U' });
  c.addInstance(3303, 0, {
    5700: { read: () => temp, type: 'f' },
    5701: 'Cel',
    5605: {
      execute: () => {
        temp = 23.5;
        c.send(['/3303/0/5700', '/3/0/3'], (ok) => print('SENT ' + ok));
      },
    },
  });
  c.on('registered', (l) => print('REG ' + l));
  c.on('updated', () => print('UPD'));
  c.on('error', (e) => print('ERR ' + e));
  c.on('operation', (x) => print('OP ' + x.op + ' ' + x.path + ' ' + x.code));
  c.start();
}, 1);
