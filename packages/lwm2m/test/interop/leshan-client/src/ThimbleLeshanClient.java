/*
 * The Leshan client peer of Thimble's interop tests (packages/lwm2m/test/interop/leshan-client.test.ts):
 * an LwM2M 1.1 client on Eclipse Leshan's client library (leshan-client-cf 2.0.0-M4) that behaves like
 * Leshan's client demo for what the tests exercise. Leshan's demo itself is not on Maven Central.
 *
 *   java -jar thimble-leshan-client-1.0.jar -n ENDPOINT -u coap://HOST:PORT [-b] [-l LIFETIME]
 *        [-lh LOCAL_ADDRESS] [-lp LOCAL_PORT]
 *        [--psk-identity ID --psk-key HEX | --rpk-private KEY.pem --rpk-public SPKI.pem --server-public SPKI.pem]
 *        [--cid N] [--dtls-retransmissions N]
 *
 *   -n   endpoint client name
 *   -u   LwM2M server URI (with -b: the bootstrap server URI)
 *   -b   bootstrap first (client-initiated bootstrap from the -u server)
 *   -l   registration lifetime in seconds (default 300)
 *   -lh / -lp  local address and port (default 127.0.0.1, ephemeral)
 *   --psk-identity / --psk-key   Security Mode PSK (LwM2M TS Core 1.1 §7.1.1; -u is then coaps://): the
 *              identity as UTF-8 text, the key in hex
 *   --rpk-private / --rpk-public / --server-public   Security Mode RPK (§7.1.2, RFC 7250): the client's P-256
 *              private key (PKCS#8 PEM, "BEGIN PRIVATE KEY"), its public key and the server's public key
 *              (SubjectPublicKeyInfo PEM, "BEGIN PUBLIC KEY"); -u is then coaps://
 *   --cid N    offer the DTLS Connection ID extension (RFC 9146 as Scandium 2.6 implements it), asking for
 *              CIDs of N bytes on records the client receives (0: supported, none wanted)
 *   --dtls-retransmissions N   give a DTLS handshake flight up to N retransmissions, the first after 1 s
 *              (Scandium's default is 4: a failing handshake then takes about 30 s)
 *
 * Objects: Security (0), Server (1), Device (3, Manufacturer "Leshan Demo Device", Current Time /3/0/13
 * changing every second, writable UTC Offset /3/0/14 and Timezone /3/0/15) and Temperature (3303, Sensor
 * Value /3303/0/5700 changing every second).
 *
 * Events go to stdout as one JSON object per line ({"event":"registered","id":"..."}); Leshan's own logs go
 * to stderr at WARN. SIGTERM / SIGINT or end of standard input de-registers and exits.
 */
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.eclipse.californium.scandium.config.DtlsConnectorConfig;
import org.eclipse.californium.scandium.dtls.SingleNodeConnectionIdGenerator;
import org.eclipse.leshan.client.californium.LeshanClient;
import org.eclipse.leshan.client.californium.LeshanClientBuilder;
import org.eclipse.leshan.client.object.Security;
import org.eclipse.leshan.client.object.Server;
import org.eclipse.leshan.client.observer.LwM2mClientObserverAdapter;
import org.eclipse.leshan.client.resource.BaseInstanceEnabler;
import org.eclipse.leshan.client.resource.LwM2mObjectEnabler;
import org.eclipse.leshan.client.resource.ObjectsInitializer;
import org.eclipse.leshan.client.servers.ServerIdentity;
import org.eclipse.leshan.core.LwM2mId;
import org.eclipse.leshan.core.ResponseCode;
import org.eclipse.leshan.core.model.ObjectLoader;
import org.eclipse.leshan.core.model.ObjectModel;
import org.eclipse.leshan.core.model.ResourceModel;
import org.eclipse.leshan.core.model.ResourceModel.Operations;
import org.eclipse.leshan.core.model.ResourceModel.Type;
import org.eclipse.leshan.core.model.StaticModel;
import org.eclipse.leshan.core.node.LwM2mResource;
import org.eclipse.leshan.core.request.BindingMode;
import org.eclipse.leshan.core.request.BootstrapRequest;
import org.eclipse.leshan.core.request.DeregisterRequest;
import org.eclipse.leshan.core.request.RegisterRequest;
import org.eclipse.leshan.core.request.UpdateRequest;
import org.eclipse.leshan.core.response.ExecuteResponse;
import org.eclipse.leshan.core.response.ReadResponse;
import org.eclipse.leshan.core.response.WriteResponse;

public class ThimbleLeshanClient {

    private static final int SHORT_SERVER_ID = 123;

    /** Drives the changing values (Current Time, temperature). */
    static final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "demo-values");
        t.setDaemon(true);
        return t;
    });

    /** One JSON line on stdout per event (synchronized: Leshan calls observers from several threads). */
    static synchronized void event(String name, String... keyValues) {
        StringBuilder b = new StringBuilder("{\"event\":\"").append(name).append('"');
        for (int i = 0; i + 1 < keyValues.length; i += 2) {
            b.append(",\"").append(keyValues[i]).append("\":\"").append(escape(keyValues[i + 1])).append('"');
        }
        System.out.println(b.append('}'));
        System.out.flush();
    }

    private static String escape(String s) {
        if (s == null)
            return "";
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\')
                b.append('\\').append(c);
            else if (c < 0x20)
                b.append(String.format("\\u%04x", (int) c));
            else
                b.append(c);
        }
        return b.toString();
    }

    /** The Device object as Leshan's client demo has it (MyDevice), values fixed except the clock. */
    public static class DemoDevice extends BaseInstanceEnabler {
        private String utcOffset = "+00:00";
        private String timezone = "Etc/UTC";
        private long timeOffsetMs = 0;

        /** Leshan's ObjectsInitializer wants a public default constructor (it is the Create factory). */
        public DemoDevice() {
            // Current Time changes every second: observers of /3/0/13 get a notification each time
            timer.scheduleAtFixedRate(() -> fireResourcesChange(13), 1, 1, TimeUnit.SECONDS);
        }

        @Override
        public ReadResponse read(ServerIdentity identity, int resourceId) {
            if (!identity.isSystem())
                event("read", "path", "/3/0/" + resourceId);
            switch (resourceId) {
            case 0:
                return ReadResponse.success(resourceId, "Leshan Demo Device");
            case 1:
                return ReadResponse.success(resourceId, "Model 500");
            case 2:
                return ReadResponse.success(resourceId, "LT-500-000-0001");
            case 3:
                return ReadResponse.success(resourceId, "1.0.0");
            case 9:
                return ReadResponse.success(resourceId, 75L);
            case 10:
                return ReadResponse.success(resourceId, 1024L);
            case 11: {
                Map<Integer, Long> errorCodes = new HashMap<>();
                errorCodes.put(0, 0L);
                return ReadResponse.success(resourceId, errorCodes, Type.INTEGER);
            }
            case 13:
                return ReadResponse.success(resourceId, new Date(System.currentTimeMillis() + timeOffsetMs));
            case 14:
                return ReadResponse.success(resourceId, utcOffset);
            case 15:
                return ReadResponse.success(resourceId, timezone);
            case 16:
                return ReadResponse.success(resourceId, "U");
            case 17:
                return ReadResponse.success(resourceId, "Demo");
            case 18:
                return ReadResponse.success(resourceId, "1.0.1");
            case 19:
                return ReadResponse.success(resourceId, "1.0.2");
            case 21:
                return ReadResponse.success(resourceId, 2048L);
            default:
                return super.read(identity, resourceId);
            }
        }

        @Override
        public WriteResponse write(ServerIdentity identity, boolean replace, int resourceId, LwM2mResource value) {
            event("write", "path", "/3/0/" + resourceId, "value", String.valueOf(value.getValue()));
            switch (resourceId) {
            case 13:
                timeOffsetMs = ((Date) value.getValue()).getTime() - System.currentTimeMillis();
                fireResourcesChange(resourceId);
                return WriteResponse.success();
            case 14:
                utcOffset = (String) value.getValue();
                fireResourcesChange(resourceId);
                return WriteResponse.success();
            case 15:
                timezone = (String) value.getValue();
                fireResourcesChange(resourceId);
                return WriteResponse.success();
            default:
                return super.write(identity, replace, resourceId, value);
            }
        }

        @Override
        public ExecuteResponse execute(ServerIdentity identity, int resourceId, String params) {
            event("execute", "path", "/3/0/" + resourceId, "arguments", params);
            if (resourceId == 4 || resourceId == 5 || resourceId == 12)
                return ExecuteResponse.success();
            return super.execute(identity, resourceId, params);
        }

        @Override
        public List<Integer> getAvailableResourceIds(ObjectModel model) {
            return Arrays.asList(0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21);
        }
    }

    /** Temperature (3303) whose Sensor Value drifts every second, like the demo's RandomTemperatureSensor. */
    public static class DemoTemperature extends BaseInstanceEnabler {
        private final Random random = new Random(42);
        private double value = 20.0;
        private double min = value;
        private double max = value;

        public DemoTemperature() {
            timer.scheduleAtFixedRate(() -> {
                synchronized (this) {
                    value = Math.round((value + random.nextGaussian() * 0.5) * 100.0) / 100.0;
                    min = Math.min(min, value);
                    max = Math.max(max, value);
                }
                fireResourcesChange(5700, 5601, 5602);
            }, 1, 1, TimeUnit.SECONDS);
        }

        @Override
        public synchronized ReadResponse read(ServerIdentity identity, int resourceId) {
            switch (resourceId) {
            case 5700:
                return ReadResponse.success(resourceId, value);
            case 5601:
                return ReadResponse.success(resourceId, min);
            case 5602:
                return ReadResponse.success(resourceId, max);
            case 5701:
                return ReadResponse.success(resourceId, "Cel");
            default:
                return super.read(identity, resourceId);
            }
        }

        @Override
        public synchronized ExecuteResponse execute(ServerIdentity identity, int resourceId, String params) {
            if (resourceId != 5605)
                return super.execute(identity, resourceId, params);
            min = value;
            max = value;
            fireResourcesChange(5601, 5602);
            return ExecuteResponse.success();
        }

        @Override
        public List<Integer> getAvailableResourceIds(ObjectModel model) {
            return Arrays.asList(5601, 5602, 5605, 5700, 5701);
        }
    }

    /** IPSO Temperature 3303 (the subset the demo serves); leshan-core ships only the core objects. */
    static ObjectModel temperatureModel() {
        List<ResourceModel> r = new ArrayList<>();
        r.add(new ResourceModel(5601, "Min Measured Value", Operations.R, false, false, Type.FLOAT, "", "", ""));
        r.add(new ResourceModel(5602, "Max Measured Value", Operations.R, false, false, Type.FLOAT, "", "", ""));
        r.add(new ResourceModel(5605, "Reset Min and Max Measured Values", Operations.E, false, false, Type.NONE,
                "", "", ""));
        r.add(new ResourceModel(5700, "Sensor Value", Operations.R, false, true, Type.FLOAT, "", "", ""));
        r.add(new ResourceModel(5701, "Sensor Units", Operations.R, false, false, Type.STRING, "", "", ""));
        return new ObjectModel(3303, "Temperature", "Temperature sensor", "1.0", true, false, r);
    }

    private static String arg(String[] args, String name, String fallback) {
        for (int i = 0; i + 1 < args.length; i++)
            if (args[i].equals(name))
                return args[i + 1];
        return fallback;
    }

    /** The DER bytes inside a PEM file's first block labelled `label`. */
    private static byte[] pem(String file, String label) throws Exception {
        String text = Files.readString(Path.of(file));
        String begin = "-----BEGIN " + label + "-----";
        int start = text.indexOf(begin);
        int end = text.indexOf("-----END " + label + "-----");
        if (start < 0 || end < start)
            throw new IllegalArgumentException(file + ": no " + begin + " block");
        return Base64.getMimeDecoder().decode(text.substring(start + begin.length(), end));
    }

    private static byte[] hex(String s) {
        if (s.length() % 2 != 0)
            throw new IllegalArgumentException("odd-length hex");
        byte[] out = new byte[s.length() / 2];
        for (int i = 0; i < out.length; i++)
            out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        return out;
    }

    /** The Security object instance for the -u server: NoSec, PSK or RPK after the flags. */
    private static Security security(String[] args, String serverUri) throws Exception {
        String pskIdentity = arg(args, "--psk-identity", null);
        String pskKey = arg(args, "--psk-key", null);
        String rpkPrivate = arg(args, "--rpk-private", null);
        String rpkPublic = arg(args, "--rpk-public", null);
        String serverPublic = arg(args, "--server-public", null);
        if (pskIdentity != null || pskKey != null) {
            if (pskIdentity == null || pskKey == null)
                throw new IllegalArgumentException("--psk-identity and --psk-key go together");
            return Security.psk(serverUri, SHORT_SERVER_ID, pskIdentity.getBytes(StandardCharsets.UTF_8), hex(pskKey));
        }
        if (rpkPrivate != null || rpkPublic != null || serverPublic != null) {
            if (rpkPrivate == null || rpkPublic == null || serverPublic == null)
                throw new IllegalArgumentException("--rpk-private, --rpk-public and --server-public go together");
            // Leshan's Security object holds the keys as DER: SubjectPublicKeyInfo and PKCS#8
            return Security.rpk(serverUri, SHORT_SERVER_ID, pem(rpkPublic, "PUBLIC KEY"), pem(rpkPrivate, "PRIVATE KEY"),
                    pem(serverPublic, "PUBLIC KEY"));
        }
        return Security.noSec(serverUri, SHORT_SERVER_ID);
    }

    public static void main(String[] args) throws Exception {
        // Leshan and Californium log through SLF4J: warnings and errors only, on stderr
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        String endpoint = arg(args, "-n", null);
        String serverUri = arg(args, "-u", null);
        boolean bootstrap = Arrays.asList(args).contains("-b");
        long lifetime = Long.parseLong(arg(args, "-l", "300"));
        String localAddress = arg(args, "-lh", "127.0.0.1");
        int localPort = Integer.parseInt(arg(args, "-lp", "0"));
        String cid = arg(args, "--cid", null);
        String retransmissions = arg(args, "--dtls-retransmissions", null);
        if (endpoint == null || serverUri == null) {
            System.err.println("usage: -n ENDPOINT -u coap[s]://HOST:PORT [-b] [-l LIFETIME] [-lh ADDR] [-lp PORT]"
                    + " [--psk-identity ID --psk-key HEX | --rpk-private KEY.pem --rpk-public SPKI.pem"
                    + " --server-public SPKI.pem] [--cid N] [--dtls-retransmissions N]");
            System.exit(2);
        }
        Security security;
        try {
            security = security(args, serverUri);
        } catch (IllegalArgumentException e) {
            System.err.println("usage: " + e.getMessage());
            System.exit(2);
            return;
        }

        List<ObjectModel> models = new ArrayList<>(ObjectLoader.loadDefault());
        models.add(temperatureModel());
        ObjectsInitializer initializer = new ObjectsInitializer(new StaticModel(models));
        if (bootstrap) {
            initializer.setInstancesForObject(LwM2mId.SECURITY, Security.noSecBootstap(serverUri));
            initializer.setClassForObject(LwM2mId.SERVER, Server.class);
        } else {
            initializer.setInstancesForObject(LwM2mId.SECURITY, security);
            initializer.setInstancesForObject(LwM2mId.SERVER,
                    new Server(SHORT_SERVER_ID, lifetime, EnumSet.of(BindingMode.U), false, BindingMode.U));
        }
        initializer.setInstancesForObject(LwM2mId.DEVICE, new DemoDevice());
        initializer.setInstancesForObject(3303, new DemoTemperature());
        List<LwM2mObjectEnabler> enablers = initializer.create(LwM2mId.SECURITY, LwM2mId.SERVER, LwM2mId.DEVICE, 3303);

        LeshanClientBuilder builder = new LeshanClientBuilder(endpoint);
        builder.setLocalAddress(localAddress, localPort);
        builder.setObjects(enablers);
        if (cid != null || retransmissions != null) {
            // Leshan adds the credentials from the Security object to this builder
            DtlsConnectorConfig.Builder dtls = new DtlsConnectorConfig.Builder();
            if (cid != null)
                dtls.setConnectionIdGenerator(new SingleNodeConnectionIdGenerator(Integer.parseInt(cid)));
            if (retransmissions != null) {
                dtls.setRetransmissionTimeout(1000);
                dtls.setMaxRetransmissions(Integer.parseInt(retransmissions));
            }
            builder.setDtlsConfig(dtls);
        }
        LeshanClient client = builder.build();
        client.addObserver(new LwM2mClientObserverAdapter() {
            @Override
            public void onBootstrapSuccess(ServerIdentity server, BootstrapRequest request) {
                event("bootstrapped", "server", server.getUri());
            }

            @Override
            public void onBootstrapFailure(ServerIdentity server, BootstrapRequest request, ResponseCode code,
                    String error, Exception cause) {
                event("bootstrap-failed", "code", String.valueOf(code), "error", error);
            }

            @Override
            public void onBootstrapTimeout(ServerIdentity server, BootstrapRequest request) {
                event("bootstrap-failed", "error", "timeout");
            }

            @Override
            public void onRegistrationSuccess(ServerIdentity server, RegisterRequest request, String registrationID) {
                event("registered", "id", registrationID, "server", server.getUri());
            }

            @Override
            public void onRegistrationFailure(ServerIdentity server, RegisterRequest request, ResponseCode code,
                    String error, Exception cause) {
                event("registration-failed", "code", String.valueOf(code), "error", error);
            }

            @Override
            public void onRegistrationTimeout(ServerIdentity server, RegisterRequest request) {
                event("registration-failed", "error", "timeout");
            }

            @Override
            public void onUpdateSuccess(ServerIdentity server, UpdateRequest request) {
                event("updated");
            }

            @Override
            public void onDeregistrationSuccess(ServerIdentity server, DeregisterRequest request) {
                event("deregistered");
            }

            @Override
            public void onUnexpectedError(Throwable t) {
                event("error", "error", String.valueOf(t));
            }
        });

        Thread shutdown = new Thread(() -> {
            client.destroy(true); // de-registers first
            event("stopped");
        });
        Runtime.getRuntime().addShutdownHook(shutdown);

        client.start();
        event("started", "endpoint", endpoint, "server", serverUri, "bootstrap", String.valueOf(bootstrap));

        // End of standard input (the parent went away or closed it) stops the client like SIGTERM does.
        Thread stdin = new Thread(() -> {
            try {
                InputStream in = System.in;
                while (in.read() >= 0) {
                    // ignore input
                }
            } catch (Exception e) {
                // treat as closed
            }
            System.exit(0);
        }, "stdin-watch");
        stdin.setDaemon(true);
        stdin.start();
    }
}
