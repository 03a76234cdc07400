// An Espruino device for @thimble/lwm2m-espruino: Wi-Fi, a temperature sensor (IPSO 3303) and firmware
// update (object 5, full profile). Written in the subset Espruino runs (no destructuring, spread,
// async/await, ...). See README.md, "@thimble/lwm2m-espruino", for the upload command.
//
// Set these four, then upload (the module goes to Storage as "lwm2m"):
var WIFI_SSID = 'my-network';
var WIFI_PASSWORD = 'my-password';
var SERVER = '192.168.1.10'; // the LwM2M server's IP address (lwm2m server, or Leshan)
var ENDPOINT = 'espruino-' + getSerial().replace(/-/g, '').substr(-6);

E.setFlags({ pretokenise: 1 });

// ESP32: E.getTemperature() is the chip's own sensor; an ESP8266 has none, so a TMP36 on A0 stands in.
function celsius() {
  if (E.getTemperature) return Math.round(E.getTemperature() * 10) / 10;
  return Math.round((analogRead(A0) * 3.3 - 0.5) * 1000) / 10;
}

var version = '1.0.0';

function start() {
  var L = require('lwm2m');
  var client = new L.Lwm2mClient({
    endpoint: ENDPOINT,
    host: SERVER,
    port: 5683,
    lifetime: 300,
    // full profile: the image is in Storage (file "fw") when the server executes /5/0/2 (Update)
    install: (file, length, done) => {
      var head = require('Storage').read(file, 0, 64) || '';
      var m = /^THIMBLE-FW (\S+)/.exec(head);
      if (!m) return done(false);
      version = m[1];
      // a real update would now copy the image where the board boots from, e.g. Storage ".bootcde"
      done(true);
    },
  });
  client.addInstance(3, 0, {
    0: 'Thimble',
    1: 'Espruino sensor',
    2: ENDPOINT,
    3: { read: () => version },
    4: { execute: () => E.reboot() },
    11: [0],
    16: 'U',
  });
  var last = celsius();
  client.addInstance(3303, 0, { 5700: { read: () => last, type: 'f' }, 5701: 'Cel' });
  setInterval(() => {
    var now = celsius();
    if (now != last) {
      last = now;
      client.changed('/3303/0/5700');
    }
  }, 5000);
  client.on('registered', (l) => console.log('registered at ' + l));
  client.on('error', (e) => console.log('lwm2m error ' + e));
  client.on('firmware', (state, result) => console.log('firmware state ' + state + ' result ' + result));
  client.start();
}

require('Wifi').connect(WIFI_SSID, { password: WIFI_PASSWORD }, (err) => {
  if (err) return console.log('Wi-Fi: ' + err);
  console.log('Wi-Fi up: ' + JSON.stringify(require('Wifi').getIP()));
  start();
});
