package io.btfagent.demo;

import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/** Trusts any server certificate: the demo and test servers' certificates are self-signed and thrown away. */
public final class TrustAll implements X509TrustManager {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
    }

    /** A JSSE client context ({@code TLS}) that trusts any server. */
    public static SSLContext jsseContext() throws GeneralSecurityException {
        SSLContext c = SSLContext.getInstance("TLS");
        c.init(null, new TrustManager[] {new TrustAll()}, new SecureRandom());
        return c;
    }
}
