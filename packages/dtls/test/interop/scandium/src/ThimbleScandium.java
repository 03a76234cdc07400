/*
 * A DTLS 1.2 interop peer on Eclipse Californium's Scandium, for packages/dtls/test/interop. One program
 * with modes, driven by flags; every line it prints on stdout is machine-readable (logging goes to stderr).
 *
 *   server --port P [--host H] [credentials] [--cid N] [--suites A,B] [--client-auth none|wanted|needed]
 *     A DTLS echo server: every application datagram is sent back unchanged to the peer it came from.
 *     Prints  READY <port>
 *             SESSION <peer> <identity> <cipher-suite> cid=<hex|none> peer-cid=<hex|none>   (per handshake)
 *             ADDRESS <old-peer> <new-peer>      (a session's records arrive from a new address, RFC 9146 §6)
 *             ALERT <peer> <level> <description> (an alert from the peer)
 *             ERROR <peer> <reason>              (a failed handshake)
 *
 *   client --host H --port P [credentials] [--cid N] [--suites A,B] --send TEXT [--count K]
 *          [--rebind-after K] [--timeout MS]
 *     Handshakes, sends TEXT K times (one at a time, waiting for each echo) and prints RECV <text> per echo
 *     (any datagram back counts; in <text> a backslash, newline and CR are escaped as \\, \n and \r).
 *     With --rebind-after K, after K echoes the client moves its DTLS state to a new connector on a new
 *     local port (DTLSConnector.save/load: no new handshake) and prints REBOUND <new-local-port>; the next
 *     records reach the server from the new address, which only works with a Connection ID the server chose
 *     (server --cid N with N > 0). Prints SESSION ... (as above, about the server) once established.
 *     Exit 0 when every echo came back; otherwise ERROR <reason> and exit 1 (at once when the handshake
 *     fails, after --timeout MS per missing echo otherwise; default 10000).
 *
 *   coap-server --port P [--host H] [credentials] [--cid N] [--suites A,B] [--client-auth ...]
 *     A CoAP over DTLS server (californium-core) with GET /hello -> 2.05 "Hello from Scandium" and
 *     POST/PUT /echo -> 2.04 with the request payload. Prints READY <port> and SESSION/ALERT/ERROR lines.
 *
 *   coap-client --uri coaps://H:P/path [credentials] [--cid N] [--suites A,B] [--method GET|POST|PUT]
 *          [--payload TEXT] [--timeout MS]
 *     Prints RESPONSE <code, e.g. 2.05> <payload as text> and exits 0, or ERROR <reason> and exits 1.
 *
 * Credentials (any mode):
 *   --psk IDENTITY:HEXKEY            repeatable on servers; a client uses the first one
 *   --ecdsa-key KEY.pem              the own P-256 private key, PKCS#8 PEM ("BEGIN PRIVATE KEY")
 *   --ecdsa-cert-or-rpk FILE.pem     with --ecdsa-key: an X.509 chain ("BEGIN CERTIFICATE", leaf first) or
 *                                    a raw public key (SubjectPublicKeyInfo, "BEGIN PUBLIC KEY", RFC 7250)
 *   --trust-rpk SPKI.pem             a trusted peer raw public key (repeatable)
 *   --trust-ca CA.pem                trusted X.509 certificates (repeatable; every certificate in the file)
 *   --trust-all                      accept any peer certificate or raw public key
 *   --cid N                          Connection ID (RFC 9146): N > 0 = use CIDs of N bytes for records we
 *                                    receive; N = 0 = support the extension without wanting one ourselves.
 *                                    Without --cid the extension is off.
 *   --suites A,B                     cipher suites by IANA name (TLS_PSK_WITH_AES_128_CCM_8, ...); named
 *                                    suites are allowed even when Scandium does not recommend them (CBC)
 *   --verbose                        Scandium's own logging (stderr) at debug level
 *
 * Identities in SESSION lines: psk:<identity>, rpk:<hex of the SubjectPublicKeyInfo DER>,
 * x509:<subject DN, RFC 2253, spaces as %20>, or none.
 */

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.security.auth.x500.X500Principal;
import org.eclipse.californium.core.CoapClient;
import org.eclipse.californium.core.CoapResource;
import org.eclipse.californium.core.CoapResponse;
import org.eclipse.californium.core.CoapServer;
import org.eclipse.californium.core.coap.CoAP.ResponseCode;
import org.eclipse.californium.core.coap.MediaTypeRegistry;
import org.eclipse.californium.core.config.CoapConfig;
import org.eclipse.californium.core.network.CoapEndpoint;
import org.eclipse.californium.core.CoapExchange;
import org.eclipse.californium.elements.AddressEndpointContext;
import org.eclipse.californium.elements.RawData;
import org.eclipse.californium.elements.auth.PreSharedKeyIdentity;
import org.eclipse.californium.elements.auth.RawPublicKeyIdentity;
import org.eclipse.californium.elements.auth.X509CertPath;
import org.eclipse.californium.elements.config.CertificateAuthenticationMode;
import org.eclipse.californium.elements.config.Configuration;
import org.eclipse.californium.elements.config.UdpConfig;
import org.eclipse.californium.scandium.AlertHandler;
import org.eclipse.californium.scandium.ConnectionListener;
import org.eclipse.californium.scandium.DTLSConnector;
import org.eclipse.californium.scandium.config.DtlsConfig;
import org.eclipse.californium.scandium.config.DtlsConnectorConfig;
import org.eclipse.californium.scandium.dtls.AlertMessage;
import org.eclipse.californium.scandium.dtls.CertificateType;
import org.eclipse.californium.scandium.dtls.Connection;
import org.eclipse.californium.scandium.dtls.ConnectionId;
import org.eclipse.californium.scandium.dtls.DTLSContext;
import org.eclipse.californium.scandium.dtls.DTLSSession;
import org.eclipse.californium.scandium.dtls.Handshaker;
import org.eclipse.californium.scandium.dtls.SessionListener;
import org.eclipse.californium.scandium.dtls.cipher.CipherSuite;
import org.eclipse.californium.scandium.dtls.pskstore.MultiPskStore;
import org.eclipse.californium.scandium.dtls.pskstore.SinglePskStore;
import org.eclipse.californium.scandium.dtls.x509.SingleCertificateProvider;
import org.eclipse.californium.scandium.dtls.x509.StaticCertificateVerifier;

public final class ThimbleScandium {
  /** stdout, line by line, never interleaved (handshake callbacks run on Scandium's threads). */
  private static final PrintStream OUT = System.out;

  /** The first failed handshake, so a client stops waiting for an answer that cannot come. */
  private static volatile Throwable handshakeFailure;

  /** Set while a rebind loads saved connections, whose "established" events are not new sessions. */
  private static volatile boolean loading;

  private static synchronized void emit(String line) {
    OUT.println(line);
    OUT.flush();
  }

  /** Parsed command line. */
  static final class Options {
    String mode;
    String host;
    int port = -1;
    final List<String[]> psks = new ArrayList<>();
    String ecdsaKey;
    String ecdsaCertOrRpk;
    final List<String> trustRpks = new ArrayList<>();
    final List<String> trustCas = new ArrayList<>();
    boolean trustAll;
    Integer cid;
    String suites;
    String clientAuth;
    String send;
    int count = 1;
    int rebindAfter = -1;
    long timeoutMs = 10_000;
    String uri;
    String method = "GET";
    String payload;
    boolean verbose;
  }

  public static void main(String[] args) {
    Options o;
    try {
      o = parse(args);
    } catch (IllegalArgumentException e) {
      emit("ERROR usage " + e.getMessage());
      System.exit(2);
      return;
    }
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", o.verbose ? "debug" : "warn");
    System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
    DtlsConfig.register();
    CoapConfig.register();
    UdpConfig.register();
    try {
      switch (o.mode) {
        case "server" -> runServer(o);
        case "client" -> System.exit(runClient(o));
        case "coap-server" -> runCoapServer(o);
        case "coap-client" -> System.exit(runCoapClient(o));
        default -> throw new IllegalArgumentException("unknown mode " + o.mode);
      }
    } catch (Exception e) {
      emit("ERROR " + oneLine(e));
      System.exit(1);
    }
  }

  static Options parse(String[] args) {
    if (args.length == 0) throw new IllegalArgumentException("missing mode (server|client|coap-server|coap-client)");
    Options o = new Options();
    o.mode = args[0];
    for (int i = 1; i < args.length; i++) {
      String flag = args[i];
      java.util.function.Supplier<String> next = nextValue(args, i, flag);
      switch (flag) {
        case "--host" -> { o.host = next.get(); i++; }
        case "--port" -> { o.port = Integer.parseInt(next.get()); i++; }
        case "--psk" -> {
          String v = next.get();
          i++;
          int colon = v.lastIndexOf(':');
          if (colon < 0) throw new IllegalArgumentException("--psk wants IDENTITY:HEXKEY");
          o.psks.add(new String[] {v.substring(0, colon), v.substring(colon + 1)});
        }
        case "--ecdsa-key" -> { o.ecdsaKey = next.get(); i++; }
        case "--ecdsa-cert-or-rpk" -> { o.ecdsaCertOrRpk = next.get(); i++; }
        case "--trust-rpk" -> { o.trustRpks.add(next.get()); i++; }
        case "--trust-ca" -> { o.trustCas.add(next.get()); i++; }
        case "--trust-all" -> o.trustAll = true;
        case "--cid" -> { o.cid = Integer.parseInt(next.get()); i++; }
        case "--suites" -> { o.suites = next.get(); i++; }
        case "--client-auth" -> { o.clientAuth = next.get(); i++; }
        case "--send" -> { o.send = next.get(); i++; }
        case "--count" -> { o.count = Integer.parseInt(next.get()); i++; }
        case "--rebind-after" -> { o.rebindAfter = Integer.parseInt(next.get()); i++; }
        case "--timeout" -> { o.timeoutMs = Long.parseLong(next.get()); i++; }
        case "--uri" -> { o.uri = next.get(); i++; }
        case "--method" -> { o.method = next.get(); i++; }
        case "--payload" -> { o.payload = next.get(); i++; }
        case "--verbose" -> o.verbose = true;
        default -> throw new IllegalArgumentException("unknown flag " + flag);
      }
    }
    if ((o.ecdsaKey == null) != (o.ecdsaCertOrRpk == null)) {
      throw new IllegalArgumentException("--ecdsa-key and --ecdsa-cert-or-rpk go together");
    }
    return o;
  }

  private static java.util.function.Supplier<String> nextValue(String[] args, int i, String flag) {
    return () -> {
      if (i + 1 >= args.length) throw new IllegalArgumentException(flag + " needs a value");
      return args[i + 1];
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Connector configuration

  static DtlsConnectorConfig.Builder connectorConfig(Options o, boolean server, InetSocketAddress bind)
      throws Exception {
    Configuration config = Configuration.createStandardWithoutFile();
    // Scandium's standard configuration turns CIDs on (length 6); here they are on only when asked for
    // (a negative length turns the extension off).
    config.set(DtlsConfig.DTLS_CONNECTION_ID_LENGTH, o.cid == null ? -1 : o.cid);
    DtlsConnectorConfig.Builder b = DtlsConnectorConfig.builder(config);
    b.setAddress(bind);
    b.set(DtlsConfig.DTLS_ROLE, server ? DtlsConfig.DtlsRole.SERVER_ONLY : DtlsConfig.DtlsRole.CLIENT_ONLY);
    // Short retransmissions keep failing tests short; loopback loses nothing.
    b.set(DtlsConfig.DTLS_RETRANSMISSION_TIMEOUT, 1000, TimeUnit.MILLISECONDS);
    b.set(DtlsConfig.DTLS_MAX_RETRANSMISSIONS, 3);
    if (o.cid != null) {
      // RFC 9146 §6: a record with a valid CID and MAC from a new address moves the session there.
      b.set(DtlsConfig.DTLS_UPDATE_ADDRESS_USING_CID_ON_NEWER_RECORDS, true);
    }
    if (o.suites != null) {
      List<CipherSuite> suites = new ArrayList<>();
      for (String name : o.suites.split(",")) {
        CipherSuite s = CipherSuite.getTypeByName(name.trim());
        if (s == null) throw new IllegalArgumentException("unknown cipher suite " + name);
        suites.add(s);
      }
      b.set(DtlsConfig.DTLS_CIPHER_SUITES, suites);
      // Asked for by name, so allowed even when Scandium does not recommend it (CBC: LwM2M's PSK suite)
      b.set(DtlsConfig.DTLS_RECOMMENDED_CIPHER_SUITES_ONLY, false);
    }
    if (!o.psks.isEmpty()) {
      if (server) {
        MultiPskStore store = new MultiPskStore();
        for (String[] psk : o.psks) store.setKey(psk[0], hex(psk[1]));
        b.setPskStore(store);
      } else {
        b.setPskStore(new SinglePskStore(o.psks.get(0)[0], hex(o.psks.get(0)[1])));
      }
    }
    if (o.ecdsaKey != null) {
      PrivateKey key = readPrivateKey(o.ecdsaKey);
      String pem = Files.readString(Path.of(o.ecdsaCertOrRpk));
      if (pem.contains("BEGIN CERTIFICATE")) {
        X509Certificate[] chain = readCertificates(o.ecdsaCertOrRpk);
        b.setCertificateIdentityProvider(
            new SingleCertificateProvider(key, chain, CertificateType.X_509, CertificateType.RAW_PUBLIC_KEY));
      } else {
        b.setCertificateIdentityProvider(new SingleCertificateProvider(key, readPublicKey(o.ecdsaCertOrRpk)));
      }
    }
    if (o.trustAll || !o.trustRpks.isEmpty() || !o.trustCas.isEmpty()) {
      StaticCertificateVerifier.Builder v = StaticCertificateVerifier.builder();
      if (o.trustAll) {
        v.setTrustAllCertificates();
        v.setTrustAllRPKs();
      } else {
        List<RawPublicKeyIdentity> rpks = new ArrayList<>();
        for (String f : o.trustRpks) rpks.add(new RawPublicKeyIdentity(readPublicKey(f)));
        if (!rpks.isEmpty()) v.setTrustedRPKs(rpks.toArray(new RawPublicKeyIdentity[0]));
        List<Certificate> cas = new ArrayList<>();
        for (String f : o.trustCas) cas.addAll(List.of(readCertificates(f)));
        if (!cas.isEmpty()) v.setTrustedCertificates(cas.toArray(new Certificate[0]));
      }
      b.setCertificateVerifier(v.build());
    }
    if (server) {
      String mode = o.clientAuth;
      if (mode == null) {
        // Without anything to verify a client with, asking for a certificate can only fail.
        mode = (o.trustAll || !o.trustRpks.isEmpty() || !o.trustCas.isEmpty()) ? "needed" : "none";
      }
      b.set(DtlsConfig.DTLS_CLIENT_AUTHENTICATION_MODE, CertificateAuthenticationMode.valueOf(mode.toUpperCase()));
    } else {
      // Hostname checks would need a DNS name in the test certificates; the tests pin the CA instead.
      b.set(DtlsConfig.DTLS_VERIFY_SERVER_CERTIFICATES_SUBJECT, false);
    }
    return b;
  }

  /** Adds the listeners that print SESSION / ALERT / ERROR lines. */
  static DTLSConnector reportingConnector(DtlsConnectorConfig.Builder b) {
    b.setConnectionListener(new ConnectionListener() {
      @Override
      public void onConnectionEstablished(Connection connection) {
        if (loading) return;
        DTLSContext ctx = connection.getEstablishedDtlsContext();
        DTLSSession session = connection.getEstablishedSession();
        emit("SESSION " + address(connection.getPeerAddress()) + " "
            + identity(connection.getEstablishedPeerIdentity()) + " "
            + (session == null ? "unknown" : session.getCipherSuite().name())
            + " cid=" + cidHex(ctx == null ? null : ctx.getReadConnectionId())
            + " peer-cid=" + cidHex(ctx == null ? null : ctx.getWriteConnectionId()));
      }

      @Override
      public void onConnectionRemoved(Connection connection) {}

      @Override
      public boolean onConnectionUpdatesSequenceNumbers(Connection connection, boolean writeSequenceNumbers) {
        return false;
      }

      @Override
      public boolean onConnectionMacError(Connection connection) {
        return false;
      }

      @Override
      public void beforeExecution(Connection connection) {}

      @Override
      public void updateExecution(Connection connection) {}

      @Override
      public void afterExecution(Connection connection) {}
    });
    b.setSessionListener(new SessionListener() {
      @Override
      public void handshakeStarted(Handshaker handshaker) {}

      @Override
      public void contextEstablished(Handshaker handshaker, DTLSContext context) {}

      @Override
      public void handshakeCompleted(Handshaker handshaker) {}

      @Override
      public void handshakeFailed(Handshaker handshaker, Throwable error) {
        if (handshakeFailure == null) handshakeFailure = error;
        emit("ERROR " + address(handshaker.getPeerAddress()) + " handshake failed: " + oneLine(error));
      }

      @Override
      public void handshakeFlightRetransmitted(Handshaker handshaker, int flight) {}
    });
    DTLSConnector connector = new DTLSConnector(b.build());
    connector.setAlertHandler(new AlertHandler() {
      @Override
      public void onAlert(InetSocketAddress peer, AlertMessage alert) {
        emit("ALERT " + address(peer) + " " + alert.getLevel() + " " + alert.getDescription());
      }
    });
    return connector;
  }

  // ---------------------------------------------------------------------------------------------
  // Modes

  static void runServer(Options o) throws Exception {
    if (o.port < 0) throw new IllegalArgumentException("server needs --port (0 = any free port)");
    InetSocketAddress bind = new InetSocketAddress(InetAddress.getByName(o.host == null ? "127.0.0.1" : o.host), o.port);
    DTLSConnector connector = reportingConnector(connectorConfig(o, true, bind));
    Map<String, InetSocketAddress> lastAddressBySession = new HashMap<>();
    connector.setRawDataReceiver(data -> {
      InetSocketAddress from = data.getInetSocketAddress();
      String session = String.valueOf(data.getEndpointContext().get(
          org.eclipse.californium.elements.DtlsEndpointContext.KEY_SESSION_ID));
      synchronized (lastAddressBySession) {
        InetSocketAddress before = lastAddressBySession.put(session, from);
        if (before != null && !before.equals(from)) emit("ADDRESS " + address(before) + " " + address(from));
      }
      // Pure echo, to the session's current address (the endpoint context the record came with).
      connector.send(RawData.outbound(data.getBytes(), data.getEndpointContext(), null, false));
    });
    connector.start();
    emit("READY " + connector.getAddress().getPort());
    Runtime.getRuntime().addShutdownHook(new Thread(connector::destroy));
    Thread.currentThread().join();
  }

  static int runClient(Options o) throws Exception {
    if (o.host == null || o.port <= 0) throw new IllegalArgumentException("client needs --host and --port");
    if (o.send == null) throw new IllegalArgumentException("client needs --send TEXT");
    InetSocketAddress server = new InetSocketAddress(InetAddress.getByName(o.host), o.port);
    InetSocketAddress bind = new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0);
    if (server.getAddress().isAnyLocalAddress() || !server.getAddress().isLoopbackAddress()) {
      bind = new InetSocketAddress(0);
    }
    BlockingQueue<RawData> received = new LinkedBlockingQueue<>();
    DTLSConnector connector = reportingConnector(connectorConfig(o, false, bind));
    connector.setRawDataReceiver(received::add);
    connector.start();
    try {
      for (int i = 0; i < o.count; i++) {
        if (o.rebindAfter >= 0 && i == o.rebindAfter) {
          connector = rebind(connector, o, bind, received);
          emit("REBOUND " + connector.getAddress().getPort());
        }
        connector.send(RawData.outbound(o.send.getBytes(StandardCharsets.UTF_8),
            new AddressEndpointContext(server), null, false));
        RawData echo = null;
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(o.timeoutMs);
        while (echo == null && handshakeFailure == null && System.nanoTime() < deadline) {
          echo = received.poll(50, TimeUnit.MILLISECONDS);
        }
        if (echo == null && handshakeFailure != null) {
          // the handshake's own ERROR line is already out
          return 1;
        }
        if (echo == null) {
          emit("ERROR no echo for message " + (i + 1) + " within " + o.timeoutMs + " ms");
          return 1;
        }
        emit("RECV " + escape(new String(echo.getBytes(), StandardCharsets.UTF_8)));
      }
      return 0;
    } finally {
      connector.destroy();
    }
  }

  /**
   * Moves the client's connections (keys, sequence numbers, CIDs) to a new connector on a new local port:
   * the old one is stopped and saved, the new one loads that state and carries on without a handshake.
   */
  static DTLSConnector rebind(DTLSConnector old, Options o, InetSocketAddress bind, BlockingQueue<RawData> received)
      throws Exception {
    old.stop();
    ByteArrayOutputStream state = new ByteArrayOutputStream();
    int saved = old.save(state, 3600);
    old.destroy();
    if (saved == 0) throw new IllegalStateException("rebind: no established connection to move");
    DTLSConnector fresh = reportingConnector(connectorConfig(o, false,
        new InetSocketAddress(bind.getAddress(), 0)));
    fresh.setRawDataReceiver(received::add);
    loading = true;
    int loaded;
    try {
      loaded = fresh.load(new ByteArrayInputStream(state.toByteArray()), 0);
    } finally {
      loading = false;
    }
    if (loaded == 0) throw new IllegalStateException("rebind: the new connector loaded no connection");
    fresh.start();
    return fresh;
  }

  static void runCoapServer(Options o) throws Exception {
    if (o.port < 0) throw new IllegalArgumentException("coap-server needs --port (0 = any free port)");
    InetSocketAddress bind = new InetSocketAddress(InetAddress.getByName(o.host == null ? "127.0.0.1" : o.host), o.port);
    DTLSConnector connector = reportingConnector(connectorConfig(o, true, bind));
    CoapServer server = new CoapServer(Configuration.createStandardWithoutFile());
    server.addEndpoint(new CoapEndpoint.Builder().setConnector(connector)
        .setConfiguration(Configuration.createStandardWithoutFile()).build());
    server.add(new CoapResource("hello") {
      @Override
      public void handleGET(CoapExchange exchange) {
        exchange.respond(ResponseCode.CONTENT, "Hello from Scandium", MediaTypeRegistry.TEXT_PLAIN);
      }
    });
    server.add(new CoapResource("echo") {
      @Override
      public void handlePOST(CoapExchange exchange) {
        exchange.respond(ResponseCode.CHANGED, exchange.getRequestPayload());
      }

      @Override
      public void handlePUT(CoapExchange exchange) {
        exchange.respond(ResponseCode.CHANGED, exchange.getRequestPayload());
      }
    });
    server.start();
    emit("READY " + connector.getAddress().getPort());
    Runtime.getRuntime().addShutdownHook(new Thread(server::destroy));
    Thread.currentThread().join();
  }

  static int runCoapClient(Options o) throws Exception {
    if (o.uri == null) throw new IllegalArgumentException("coap-client needs --uri coaps://host:port/path");
    URI uri = new URI(o.uri);
    InetAddress target = InetAddress.getByName(uri.getHost());
    InetSocketAddress bind = new InetSocketAddress(target.isLoopbackAddress() ? target : null, 0);
    if (!target.isLoopbackAddress()) bind = new InetSocketAddress(0);
    DTLSConnector connector = reportingConnector(connectorConfig(o, false, bind));
    CoapEndpoint endpoint = new CoapEndpoint.Builder().setConnector(connector)
        .setConfiguration(Configuration.createStandardWithoutFile()).build();
    CoapClient client = new CoapClient(uri);
    client.setEndpoint(endpoint);
    client.setTimeout(o.timeoutMs);
    try {
      byte[] payload = o.payload == null ? new byte[0] : o.payload.getBytes(StandardCharsets.UTF_8);
      CoapResponse response = switch (o.method.toUpperCase()) {
        case "GET" -> client.get();
        case "POST" -> client.post(payload, MediaTypeRegistry.TEXT_PLAIN);
        case "PUT" -> client.put(payload, MediaTypeRegistry.TEXT_PLAIN);
        case "DELETE" -> client.delete();
        default -> throw new IllegalArgumentException("unknown method " + o.method);
      };
      if (response == null) {
        emit("ERROR no response within " + o.timeoutMs + " ms");
        return 1;
      }
      ResponseCode code = response.getCode();
      emit("RESPONSE " + code.codeClass + "." + String.format("%02d", code.codeDetail) + " "
          + response.getResponseText());
      return 0;
    } finally {
      client.shutdown();
      endpoint.destroy();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Formatting and files

  static String address(InetSocketAddress a) {
    return a == null ? "unknown" : a.getAddress().getHostAddress() + ":" + a.getPort();
  }

  /** Keeps a received text on one line: backslash, newline and carriage return escaped as \\, \n, \r. */
  static String escape(String text) {
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r");
  }

  static String cidHex(ConnectionId cid) {
    return cid == null || cid.isEmpty() ? "none" : cid.getAsString().toLowerCase();
  }

  static String identity(Principal p) {
    if (p == null) return "none";
    if (p instanceof PreSharedKeyIdentity psk) return "psk:" + psk.getIdentity();
    if (p instanceof RawPublicKeyIdentity rpk) return "rpk:" + toHex(rpk.getKey().getEncoded());
    if (p instanceof X509CertPath path) {
      return "x509:" + path.getTarget().getSubjectX500Principal().getName(X500Principal.RFC2253).replace(" ", "%20");
    }
    return "other:" + p.getName().replace(" ", "%20");
  }

  static String oneLine(Throwable e) {
    String m = e.getMessage();
    return (e.getClass().getSimpleName() + (m == null ? "" : ": " + m)).replace('\n', ' ');
  }

  static byte[] hex(String s) {
    if (s.length() % 2 != 0) throw new IllegalArgumentException("odd-length hex key");
    byte[] out = new byte[s.length() / 2];
    for (int i = 0; i < out.length; i++) out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
    return out;
  }

  static String toHex(byte[] b) {
    StringBuilder sb = new StringBuilder();
    for (byte x : b) sb.append(String.format("%02x", x));
    return sb.toString();
  }

  static byte[] pemBody(String file, String label) throws IOException {
    String text = Files.readString(Path.of(file));
    String begin = "-----BEGIN " + label + "-----";
    int start = text.indexOf(begin);
    if (start < 0) throw new IllegalArgumentException(file + ": no " + begin);
    int end = text.indexOf("-----END " + label + "-----", start);
    return Base64.getMimeDecoder().decode(text.substring(start + begin.length(), end));
  }

  static PrivateKey readPrivateKey(String file) throws Exception {
    return KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(pemBody(file, "PRIVATE KEY")));
  }

  static PublicKey readPublicKey(String file) throws Exception {
    return KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(pemBody(file, "PUBLIC KEY")));
  }

  static X509Certificate[] readCertificates(String file) throws Exception {
    CertificateFactory f = CertificateFactory.getInstance("X.509");
    Collection<? extends Certificate> all = f.generateCertificates(Files.newInputStream(Path.of(file)));
    List<X509Certificate> out = new ArrayList<>();
    for (Certificate c : all) out.add((X509Certificate) c);
    if (out.isEmpty()) throw new IllegalArgumentException(file + ": no certificate");
    return out.toArray(new X509Certificate[0]);
  }
}
