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
 * Usage: java -jar thimble-leshan-bsserver.jar --port P [--host H] --endpoint EP --server-uri URI
 *        [--ssid N] [--lifetime S] [--binding U] [--psk-identity ID --psk-key HEX] [--no-auto-id]
 *        [--content-format CODE]
 */
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.HashMap;
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

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = new HashMap<>();
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (a.equals("--no-auto-id")) {
                args.put(a, "true");
            } else if (a.startsWith("--") && i + 1 < argv.length) {
                args.put(a, argv[++i]);
            } else {
                System.err.println("bad argument: " + a);
                System.exit(2);
            }
        }
        String host = args.getOrDefault("--host", "127.0.0.1");
        int port = Integer.parseInt(args.getOrDefault("--port", "5783"));
        String endpoint = args.get("--endpoint");
        String serverUri = args.get("--server-uri");
        if (endpoint == null || serverUri == null) {
            System.err.println("--endpoint and --server-uri are required");
            System.exit(2);
        }
        int ssid = Integer.parseInt(args.getOrDefault("--ssid", "123"));

        BootstrapConfig config = new BootstrapConfig();
        config.autoIdForSecurityObject = !args.containsKey("--no-auto-id");
        config.toDelete.add("/0");
        config.toDelete.add("/1");
        if (args.containsKey("--content-format"))
            config.contentFormat = ContentFormat.fromCode(Integer.parseInt(args.get("--content-format")));

        BootstrapConfig.ServerSecurity security = new BootstrapConfig.ServerSecurity();
        security.uri = serverUri;
        security.bootstrapServer = false;
        security.serverId = ssid;
        if (args.containsKey("--psk-identity")) {
            security.securityMode = SecurityMode.PSK;
            security.publicKeyOrId = args.get("--psk-identity").getBytes(StandardCharsets.UTF_8);
            security.secretKey = hex(args.getOrDefault("--psk-key", ""));
        } else {
            security.securityMode = SecurityMode.NO_SEC;
        }
        config.security.put(1, security);

        BootstrapConfig.ServerConfig server = new BootstrapConfig.ServerConfig();
        server.shortId = ssid;
        server.lifetime = Integer.parseInt(args.getOrDefault("--lifetime", "300"));
        EnumSet<BindingMode> binding = EnumSet.noneOf(BindingMode.class);
        for (char c : args.getOrDefault("--binding", "U").toCharArray())
            binding.add(BindingMode.valueOf(String.valueOf(c)));
        server.binding = binding;
        config.servers.put(0, server);

        InMemoryBootstrapConfigStore store = new InMemoryBootstrapConfigStore();
        store.add(endpoint, config);

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
