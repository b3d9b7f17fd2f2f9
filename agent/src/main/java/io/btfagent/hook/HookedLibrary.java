package io.btfagent.hook;

import io.btfagent.bpf.BpfObject;
import io.btfagent.tls.ProbeSites;
import io.btfagent.tls.TlsLibrary;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A library build with probes attached. Its records carry {@code id} in the cookie's upper
 * bits; {@code origin} says where its BTF came from; {@code hookedAs} is the start of the line
 * that says it was hooked; {@code sites} where its probes sit (null: by symbol, no placement);
 * {@code unhooked}: its probes were detached because its BTF failed the check.
 */
public record HookedLibrary(int id, TlsLibrary library, String version, String origin, BpfObject object,
        boolean multi, ProbeSites sites, String hookedAs, AtomicBoolean unhooked) {

    /** Functions whose probes went on emulated instructions (none without a placement). */
    public int moved() {
        return sites == null ? 0 : sites.moved();
    }

    /** How its probes are attached, for its log line. */
    public String probes() {
        return object.links().size() + (multi ? " uprobe_multi links" : " uprobes");
    }

    /** The functions probed, for its log line. */
    public String probed() {
        return String.join("/", library.functions()) + (library.freeProbe() != null ? "/" + library.free() : "");
    }

    /** One line for {@code status}: family, version, path, build-id, BTF, links. */
    public String statusLine() {
        return library.family() + " " + version + " at " + library.path() + " (build-id " + library.buildId()
                + ", BTF " + origin + ", " + object.links().size() + " links"
                + (unhooked.get() ? ", unhooked: its BTF failed the check" : "") + ")";
    }
}
