/*
 * The Leshan LwM2M-server peer of the composite interop test (leshan-composite.test.ts): Eclipse Leshan
 * 2.0.0-M4's server library (LeshanServerBuilder) on an unsecured CoAP port, driven by commands on stdin,
 * because the M4 server demo's REST API has no route for Read-Composite / Write-Composite.
 *
 * stdout, one line each:
 *   READY port=<udp port>
 *   EVENT registered ep=<endpoint>
 *   EVENT unregistered ep=<endpoint>
 *   RESULT <json>                       one per command, in order
 *
 * Commands on stdin (one a line, tokens separated by spaces; FORMAT is cbor or json, the SenML flavour):
 *   read-composite EP FORMAT PATH...   Read-Composite (FETCH /), request and response in FORMAT
 *   write-composite EP FORMAT PATH=T:VALUE...
 *                                      Write-Composite (iPATCH /); T is s (string), i (integer), f (float),
 *                                      b (boolean); VALUE has no spaces
 *   read EP FORMAT PATH                 a plain Read of one resource
 *
 * A result is {"cmd":"...","code":<CoAP code as 205>,"name":"CONTENT","format":<response Content-Format>,"values":{"/3/0/0":"Thimble",...},
 * "error":"..."}; values holds a single resource's value, a multiple resource as {"0":v,...}; opaque as
 * hex, time as seconds since the epoch. A request that fails in Leshan gives {"cmd":...,"failure":"..."}.
 *
 * Usage: java -cp thimble-leshan-bsserver.jar:lib/* ThimbleLeshanServer --port P [--host H]
 */
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.List;
import java.util.TreeMap;

import org.eclipse.californium.core.coap.Response;
import org.eclipse.leshan.core.model.ObjectLoader;
import org.eclipse.leshan.core.model.ObjectModel;
import org.eclipse.leshan.core.model.ResourceModel;
import org.eclipse.leshan.core.model.ResourceModel.Operations;
import org.eclipse.leshan.core.model.ResourceModel.Type;

import org.eclipse.leshan.core.node.LwM2mMultipleResource;
import org.eclipse.leshan.core.node.LwM2mNode;
import org.eclipse.leshan.core.node.LwM2mPath;
import org.eclipse.leshan.core.node.LwM2mResourceInstance;
import org.eclipse.leshan.core.node.LwM2mSingleResource;
import org.eclipse.leshan.core.observation.Observation;
import org.eclipse.leshan.core.request.ContentFormat;
import org.eclipse.leshan.core.request.ReadCompositeRequest;
import org.eclipse.leshan.core.request.ReadRequest;
import org.eclipse.leshan.core.request.WriteCompositeRequest;
import org.eclipse.leshan.core.response.LwM2mResponse;
import org.eclipse.leshan.core.response.ReadCompositeResponse;
import org.eclipse.leshan.core.response.ReadResponse;
import org.eclipse.leshan.server.californium.LeshanServer;
import org.eclipse.leshan.server.californium.LeshanServerBuilder;
import org.eclipse.leshan.server.model.VersionedModelProvider;
import org.eclipse.leshan.server.registration.Registration;
import org.eclipse.leshan.server.registration.RegistrationListener;
import org.eclipse.leshan.server.registration.RegistrationUpdate;

public class ThimbleLeshanServer {

    private static synchronized void print(String line) {
        System.out.println(line);
        System.out.flush();
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\')
                b.append('\\').append(c);
            else if (c < 0x20)
                b.append(String.format("\\u%04x", (int) c));
            else
                b.append(c);
        }
        return b.append('"').toString();
    }

    private static String json(Object value) {
        if (value == null)
            return "null";
        if (value instanceof Boolean || value instanceof Long || value instanceof Integer)
            return value.toString();
        if (value instanceof Double) {
            double d = (Double) value;
            return Double.isFinite(d) ? value.toString() : quote(value.toString());
        }
        if (value instanceof Date)
            return Long.toString(((Date) value).getTime() / 1000);
        if (value instanceof byte[]) {
            StringBuilder b = new StringBuilder();
            for (byte x : (byte[]) value)
                b.append(String.format("%02x", x));
            return quote(b.toString());
        }
        // unsigned integers, object links and anything else: their text
        return quote(value.toString());
    }

    private static String node(LwM2mNode node) {
        if (node instanceof LwM2mSingleResource)
            return json(((LwM2mSingleResource) node).getValue());
        if (node instanceof LwM2mResourceInstance)
            return json(((LwM2mResourceInstance) node).getValue());
        if (node instanceof LwM2mMultipleResource) {
            StringBuilder b = new StringBuilder("{");
            for (Map.Entry<Integer, LwM2mResourceInstance> e : new TreeMap<>(
                    ((LwM2mMultipleResource) node).getInstances()).entrySet()) {
                if (b.length() > 1)
                    b.append(',');
                b.append(quote(e.getKey().toString())).append(':').append(json(e.getValue().getValue()));
            }
            return b.append('}').toString();
        }
        return node == null ? "null" : quote(node.toString());
    }

    private static String result(String cmd, LwM2mResponse response, Map<String, LwM2mNode> values) {
        StringBuilder b = new StringBuilder("{\"cmd\":").append(quote(cmd));
        b.append(",\"code\":").append(response.getCode().getCode());
        b.append(",\"name\":").append(quote(response.getCode().getName()));
        // the Content-Format the client answered with (Californium's response under Leshan's)
        if (response.getCoapResponse() instanceof Response) {
            Response coap = (Response) response.getCoapResponse();
            if (coap.getOptions().hasContentFormat())
                b.append(",\"format\":").append(coap.getOptions().getContentFormat());
        }
        if (response.getErrorMessage() != null)
            b.append(",\"error\":").append(quote(response.getErrorMessage()));
        if (values != null) {
            b.append(",\"values\":{");
            boolean first = true;
            for (Map.Entry<String, LwM2mNode> e : values.entrySet()) {
                if (!first)
                    b.append(',');
                first = false;
                b.append(quote(e.getKey())).append(':').append(node(e.getValue()));
            }
            b.append('}');
        }
        return b.append('}').toString();
    }

    private static ContentFormat format(String name) {
        switch (name) {
        case "cbor":
            return ContentFormat.SENML_CBOR;
        case "json":
            return ContentFormat.SENML_JSON;
        default:
            throw new IllegalArgumentException("format must be cbor or json, not " + name);
        }
    }

    private static Object value(String typed) {
        int colon = typed.indexOf(':');
        String v = typed.substring(colon + 1);
        switch (typed.substring(0, colon)) {
        case "s":
            return v;
        case "i":
            return Long.parseLong(v);
        case "f":
            return Double.parseDouble(v);
        case "b":
            return Boolean.parseBoolean(v);
        default:
            throw new IllegalArgumentException("value type must be s, i, f or b: " + typed);
        }
    }

    private static String run(LeshanServer server, String line) throws Exception {
        String[] t = line.trim().split("\\s+");
        if (t.length < 4)
            throw new IllegalArgumentException("usage: COMMAND EP FORMAT PATH...");
        String cmd = t[0];
        Registration reg = server.getRegistrationService().getByEndpoint(t[1]);
        if (reg == null)
            throw new IllegalArgumentException("no registration for " + t[1]);
        ContentFormat cf = format(t[2]);
        String[] args = java.util.Arrays.copyOfRange(t, 3, t.length);
        switch (cmd) {
        case "read-composite": {
            ReadCompositeResponse r = server.send(reg, new ReadCompositeRequest(cf, cf, args), 5000);
            if (r == null)
                throw new IllegalStateException("timeout");
            Map<String, LwM2mNode> values = new LinkedHashMap<>();
            if (r.getContent() != null)
                for (Map.Entry<LwM2mPath, LwM2mNode> e : r.getContent().entrySet())
                    values.put(e.getKey().toString(), e.getValue());
            return result(cmd, r, values);
        }
        case "write-composite": {
            Map<String, Object> values = new LinkedHashMap<>();
            for (String a : args) {
                int eq = a.indexOf('=');
                values.put(a.substring(0, eq), value(a.substring(eq + 1)));
            }
            LwM2mResponse r = server.send(reg, new WriteCompositeRequest(cf, values), 5000);
            if (r == null)
                throw new IllegalStateException("timeout");
            return result(cmd, r, null);
        }
        case "read": {
            ReadResponse r = server.send(reg, new ReadRequest(cf, args[0]), 5000);
            if (r == null)
                throw new IllegalStateException("timeout");
            Map<String, LwM2mNode> values = new LinkedHashMap<>();
            if (r.getContent() != null)
                values.put(args[0], r.getContent());
            return result(cmd, r, values);
        }
        default:
            throw new IllegalArgumentException("unknown command " + cmd);
        }
    }

    private static ResourceModel resource(int id, String name, Operations op, Type type) {
        return new ResourceModel(id, name, op, false, false, type, "", "", "");
    }

    /*
     * Leshan's built-in models are the core objects only, and its SenML decoder needs a resource's type, so the
     * Temperature object (3303) the test device has is described here: the resources the device uses, as in
     * the OMA registry (both versions, as the client may register either).
     */
    private static List<ObjectModel> models() {
        List<ObjectModel> models = new ArrayList<>(ObjectLoader.loadAllDefault());
        for (String version : new String[] { "1.0", "1.1" })
            models.add(new ObjectModel(3303, "Temperature", "", version, true, false,
                    resource(5700, "Sensor Value", Operations.R, Type.FLOAT),
                    resource(5701, "Sensor Units", Operations.R, Type.STRING),
                    resource(5601, "Min Measured Value", Operations.R, Type.FLOAT),
                    resource(5602, "Max Measured Value", Operations.R, Type.FLOAT),
                    resource(5605, "Reset Min and Max Measured Values", Operations.E, Type.NONE),
                    resource(5750, "Application Type", Operations.RW, Type.STRING)));
        return models;
    }

    public static void main(String[] argv) throws Exception {
        String host = "127.0.0.1";
        int port = 5683;
        for (int i = 0; i + 1 < argv.length; i += 2) {
            switch (argv[i]) {
            case "--host":
                host = argv[i + 1];
                break;
            case "--port":
                port = Integer.parseInt(argv[i + 1]);
                break;
            default:
                System.err.println("bad argument: " + argv[i]);
                System.exit(2);
            }
        }

        LeshanServerBuilder builder = new LeshanServerBuilder();
        builder.setLocalAddress(host, port);
        builder.disableSecuredEndpoint();
        builder.setCoapConfig(LeshanServerBuilder.createDefaultNetworkConfig());
        builder.setObjectModelProvider(new VersionedModelProvider(models()));
        LeshanServer server = builder.build();
        server.getRegistrationService().addListener(new RegistrationListener() {
            @Override
            public void registered(Registration registration, Registration previousReg,
                    Collection<Observation> previousObservations) {
                print("EVENT registered ep=" + registration.getEndpoint());
            }

            @Override
            public void updated(RegistrationUpdate update, Registration updatedReg, Registration previousReg) {
            }

            @Override
            public void unregistered(Registration registration, Collection<Observation> observations,
                    boolean expired, Registration newReg) {
                print("EVENT unregistered ep=" + registration.getEndpoint());
            }
        });
        server.start();
        print("READY port=" + server.getUnsecuredAddress().getPort());
        Runtime.getRuntime().addShutdownHook(new Thread(server::destroy));

        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank())
                continue;
            String cmd = line.trim().split("\\s+")[0];
            try {
                print("RESULT " + run(server, line));
            } catch (Exception e) {
                print("RESULT {\"cmd\":" + quote(cmd) + ",\"failure\":" + quote(String.valueOf(e)) + "}");
            }
        }
        // stdin closed: the test is done with us
        server.destroy();
        System.exit(0);
    }
}
