// A test device for queue mode (full profile): registers with Q, sleeps __AWAKE__ s after it last heard
// from the server, sends its Updates every 90 % of __LIFETIME__ s. __HOST__, __PORT__, __EP__ are filled
// in by the test.
E.setFlags({ pretokenise: 1 });
setTimeout(() => {
  var L = require('lwm2m');
  var c = new L.Lwm2mClient({
    endpoint: '__EP__',
    host: '__HOST__',
    port: __PORT__,
    lifetime: __LIFETIME__,
    queue: true,
    awake: __AWAKE__,
  });
  c.addInstance(3, 0, { 0: 'Thimble', 1: 'Espruino queue', 3: '1.0.0' });
  c.on('registered', (l) => print('REG ' + l));
  c.on('updated', () => print('UPD'));
  c.on('sleep', () => print('SLEEP'));
  c.on('error', (e) => print('ERR ' + e));
  c.on('operation', (x) => print('OP ' + x.op + ' ' + x.path + ' ' + x.code));
  c.start();
}, 1);
