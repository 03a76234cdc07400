/*
 * The Leshan bootstrap-server peer of the interop tests: Eclipse Leshan 2.0.0-M4's bootstrap server
 * (LeshanBootstrapServerBuilder, InMemoryBootstrapConfigStore) on an unsecured CoAP port, with one
 * bootstrap configuration given on the command line. Prints one line per event on stdout:
 *
 *   READY port=<udp port>
 *   EVENT initiated ep=<endpoint>
 *   EVENT noConfig ep=<endpoint>
 *   EVENT send ep=<endpoint> <request>
 *   EVENT success ep=<endpoint> <request class> <path> <code>
 *   EVENT error ep=<endpoint> <request class> <path> <code> <message>
 *   EVENT failure ep=<endpoint> <request class> <path> <cause>
 *   EVENT end ep=<endpoint>
 *   EVENT failed ep=<endpoint> <cause>
 *
 * Usage: java -jar thimble-leshan-bsserver.jar --port P [--host H]
 *        --client EP=URI[,ssid=N][,lifetime=S][,binding=U][,psk=IDENTITY:HEXKEY][,format=CODE][,autoid=false]
 *        [--client ...]
 *
 * Each --client adds the configuration of one endpoint: delete /0 and /1, then one LwM2M server account
 * (Security instance with the URI, NoSec or PSK, and its Server instance). With autoid (the default) Leshan
 * starts with a Bootstrap-Discover to find the device's bootstrap-server account and writes around it.
 */
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.eclipse.leshan.core.SecurityMode;
import org.eclipse.leshan.core.request.BindingMode;
import org.eclipse.leshan.core.request.BootstrapDownlinkRequest;
import org.eclipse.leshan.core.request.BootstrapRequest;
import org.eclipse.leshan.core.request.ContentFormat;
import org.eclipse.leshan.core.request.Identity;
import org.eclipse.leshan.core.response.LwM2mResponse;
import org.eclipse.leshan.server.bootstrap.BootstrapConfig;
import org.eclipse.leshan.server.bootstrap.BootstrapFailureCause;
import org.eclipse.leshan.server.bootstrap.BootstrapSession;
import org.eclipse.leshan.server.bootstrap.BootstrapSessionAdapter;
import org.eclipse.leshan.server.bootstrap.InMemoryBootstrapConfigStore;
import org.eclipse.leshan.server.californium.bootstrap.LeshanBootstrapServer;
import org.eclipse.leshan.server.californium.bootstrap.LeshanBootstrapServerBuilder;

public class ThimbleLeshanBootstrapServer {

    private static synchronized void print(String line) {
        System.out.println(line);
        System.out.flush();
    }

    private static String describe(BootstrapDownlinkRequest<? extends LwM2mResponse> request) {
        return request.getClass().getSimpleName() + " " + request.getPath();
    }

    private static byte[] hex(String s) {
        byte[] out = new byte[s.length() / 2];
        for (int i = 0; i < out.length; i++)
            out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        return out;
    }

    private static BootstrapConfig config(String spec) {
        String[] parts = spec.split(",");
        int eq = parts[0].indexOf('=');
        String serverUri = parts[0].substring(eq + 1);
        Map<String, String> opts = new HashMap<>();
        for (int i = 1; i < parts.length; i++) {
            int e = parts[i].indexOf('=');
            opts.put(parts[i].substring(0, e), parts[i].substring(e + 1));
        }
        int ssid = Integer.parseInt(opts.getOrDefault("ssid", "123"));

        BootstrapConfig config = new BootstrapConfig();
        config.autoIdForSecurityObject = !"false".equals(opts.get("autoid"));
        config.toDelete.add("/0");
        config.toDelete.add("/1");
        if (opts.containsKey("format"))
            config.contentFormat = ContentFormat.fromCode(Integer.parseInt(opts.get("format")));

        BootstrapConfig.ServerSecurity security = new BootstrapConfig.ServerSecurity();
        security.uri = serverUri;
        security.bootstrapServer = false;
        security.serverId = ssid;
        if (opts.containsKey("psk")) {
            String psk = opts.get("psk");
            int colon = psk.indexOf(':');
            security.securityMode = SecurityMode.PSK;
            security.publicKeyOrId = psk.substring(0, colon).getBytes(StandardCharsets.UTF_8);
            security.secretKey = hex(psk.substring(colon + 1));
        } else {
            security.securityMode = SecurityMode.NO_SEC;
        }
        config.security.put(1, security);

        BootstrapConfig.ServerConfig server = new BootstrapConfig.ServerConfig();
        server.shortId = ssid;
        server.lifetime = Integer.parseInt(opts.getOrDefault("lifetime", "300"));
        EnumSet<BindingMode> binding = EnumSet.noneOf(BindingMode.class);
        for (char c : opts.getOrDefault("binding", "U").toCharArray())
            binding.add(BindingMode.valueOf(String.valueOf(c)));
        server.binding = binding;
        config.servers.put(0, server);
        return config;
    }

    public static void main(String[] argv) throws Exception {
        String host = "127.0.0.1";
        int port = 5783;
        List<String> clients = new ArrayList<>();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            switch (argv[i]) {
            case "--host":
                host = argv[i + 1];
                break;
            case "--port":
                port = Integer.parseInt(argv[i + 1]);
                break;
            case "--client":
                clients.add(argv[i + 1]);
                break;
            default:
                System.err.println("bad argument: " + argv[i]);
                System.exit(2);
            }
        }
        if (argv.length % 2 != 0 || clients.isEmpty()) {
            System.err.println("usage: --port P [--host H] --client EP=URI[,ssid=N][,lifetime=S]... [--client ...]");
            System.exit(2);
        }

        InMemoryBootstrapConfigStore store = new InMemoryBootstrapConfigStore();
        for (String spec : clients)
            store.add(spec.substring(0, spec.indexOf('=')), config(spec));

        LeshanBootstrapServerBuilder builder = new LeshanBootstrapServerBuilder();
        builder.setLocalAddress(host, port);
        builder.disableSecuredEndpoint();
        builder.setConfigStore(store);
        builder.setCoapConfig(builder.createDefaultNetworkConfig());
        LeshanBootstrapServer bsServer = builder.build();

        bsServer.addListener(new BootstrapSessionAdapter() {
            @Override
            public void sessionInitiated(BootstrapRequest request, Identity clientIdentity) {
                print("EVENT initiated ep=" + request.getEndpointName() + " pct="
                        + request.getPreferredContentFormat());
            }

            @Override
            public void noConfig(BootstrapSession session) {
                print("EVENT noConfig ep=" + session.getEndpoint());
            }

            @Override
            public void sendRequest(BootstrapSession session,
                    BootstrapDownlinkRequest<? extends LwM2mResponse> request) {
                print("EVENT send ep=" + session.getEndpoint() + " " + describe(request) + " format="
                        + session.getContentFormat());
            }

            @Override
            public void onResponseSuccess(BootstrapSession session,
                    BootstrapDownlinkRequest<? extends LwM2mResponse> request, LwM2mResponse response) {
                print("EVENT success ep=" + session.getEndpoint() + " " + describe(request) + " "
                        + response.getCode() + " " + response);
            }

            @Override
            public void onResponseError(BootstrapSession session,
                    BootstrapDownlinkRequest<? extends LwM2mResponse> request, LwM2mResponse response) {
                print("EVENT error ep=" + session.getEndpoint() + " " + describe(request) + " " + response.getCode()
                        + " " + response.getErrorMessage());
            }

            @Override
            public void onRequestFailure(BootstrapSession session,
                    BootstrapDownlinkRequest<? extends LwM2mResponse> request, Throwable cause) {
                print("EVENT failure ep=" + session.getEndpoint() + " " + describe(request) + " " + cause);
            }

            @Override
            public void end(BootstrapSession session) {
                print("EVENT end ep=" + session.getEndpoint());
            }

            @Override
            public void failed(BootstrapSession session, BootstrapFailureCause cause) {
                print("EVENT failed ep=" + session.getEndpoint() + " " + cause);
            }
        });
        bsServer.start();
        InetSocketAddress address = bsServer.getUnsecuredAddress();
        print("READY port=" + address.getPort());
        Runtime.getRuntime().addShutdownHook(new Thread(bsServer::destroy));
        Thread.currentThread().join();
    }
}
