package io.btfagent.btf;

import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Which BTF describes one library build, by rules that only read files: the exact build (the
 * user's {@code btf.path} file named by its build-id, then the bundled catalog), else for
 * OpenSSL with {@code btf.fallback} on, the catalog build of the same version line under a
 * per-record check, else a refusal that says what to supply. A BTF that cannot describe the
 * family (corrupt, or without the structs the program reads) is refused too. A wrong BTF is
 * accepted by libbpf and reads garbage, so nothing here guesses.
 */
public final class BtfSelection {
    private BtfSelection() {
    }

    /** What the rules decided for one build. */
    public sealed interface Outcome permits Chosen, Refused {
    }

    /**
     * A usable BTF. {@code guarded}: it was not made for this exact build and the family has a
     * check of what it reads (OpenSSL's BIO type and socket), so every record must pass that
     * check before it is reported.
     */
    public record Chosen(BtfCatalog.Selection selection, boolean guarded, Optional<String> passedOver)
            implements Outcome {
        public Chosen(BtfCatalog.Selection selection, boolean guarded) {
            this(selection, guarded, Optional.empty());
        }
    }

    /**
     * No usable BTF. {@code version} is what is known of the build's version (empty when the
     * catalog could not even be read), {@code reason} one sentence with the fix.
     */
    public record Refused(Optional<String> version, String reason) implements Outcome {
    }

    /**
     * Applies the rules to the build {@code buildId} of {@code family}. {@code reportedVersion}
     * is asked only for builds the catalog does not know (reading it costs megabytes of I/O);
     * {@code debug} hears why a version-line BTF could not be read.
     */
    public static Outcome select(BtfCatalog catalog, String family, String buildId,
            Supplier<Optional<String>> reportedVersion, boolean fallback, Consumer<String> debug) {
        Optional<BtfCatalog.Entry> known = catalog.entry(family, buildId);
        Optional<String> reported = known.isPresent() ? Optional.of(known.get().version()) : reportedVersion.get();
        Optional<BtfCatalog.Selection> btf;
        // a btf.path file of this build that is refused: said on the line of what is used instead
        List<String> passedOver = new java.util.ArrayList<>();
        try {
            btf = catalog.select(family, buildId, reported.orElse("unknown"), true, passedOver::add);
            if (btf.isPresent() && btf.get().checked() && !btf.get().origin().startsWith("catalog:")) {
                Optional<String> unusable = unusable(family, btf.get().btf());
                if (unusable.isPresent()) {
                    passedOver.add("btf.path file " + btf.get().origin() + " " + unusable.get());
                    btf = catalog.select(family, buildId, reported.orElse("unknown"), false, passedOver::add);
                }
            }
        } catch (IOException e) {
            return new Refused(Optional.empty(), e.getMessage());
        }
        // Only OpenSSL has a check (BuildCheck) that exposes a BTF of another layout.
        boolean lineFallback = fallback && family.equals("openssl");
        if (btf.isEmpty() && lineFallback && reported.isPresent()) {
            try {
                btf = catalog.sameVersionLine(family, reported.get());
            } catch (IOException e) {
                debug.accept("no version-line BTF: " + e.getMessage());
            }
        }
        String refusedFile = passedOver.isEmpty() ? "" : " (" + String.join("; ", passedOver) + ")";
        if (btf.isEmpty()) {
            return new Refused(Optional.of(reported.orElse("(version unknown)")), "build-id " + buildId
                    + " is not in the BTF catalog"
                    + (lineFallback ? " and no catalog build shares its version line" : "") + refusedFile
                    + "; generate its BTF (native-targets) and put it in btf.path as " + buildId + ".btf");
        }
        Optional<String> unusable = unusable(family, btf.get().btf());
        if (unusable.isPresent()) {
            return new Refused(Optional.of(btf.get().version()), "BTF " + btf.get().origin() + " " + unusable.get()
                    + refusedFile + "; regenerate it (native-targets) or remove it from btf.path");
        }
        return new Chosen(btf.get(), btf.get().checked() && family.equals("openssl"),
                passedOver.isEmpty() ? Optional.empty() : Optional.of(String.join("; ", passedOver)));
    }

    /**
     * Why a BTF cannot describe a build of {@code family}: not parseable, or missing the structs
     * the program reads. Checked before libbpf sees it, for a message that names the problem.
     */
    public static Optional<String> unusable(String family, byte[] btf) {
        try {
            BtfFile parsed = BtfFile.parse(btf);
            List<String> needed = family.equals("gnutls") ? List.of("gnutls_session_int")
                    : List.of("ssl_st", "bio_st", "bio_method_st");
            for (String struct : needed) {
                if (parsed.struct(struct).isEmpty()) {
                    return Optional.of("has no struct " + struct);
                }
            }
            return Optional.empty();
        } catch (BtfFormatException e) {
            return Optional.of("is corrupt (" + e.getMessage() + ")");
        }
    }
}
