package io.btfagent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class MainClassLoadedTest {
    private static final ClassLoader APP = ClassLoader.getSystemClassLoader();

    @Test
    void theAgentsOwnClassesAreNotTheMainClass() {
        assertEquals(BtfAgent.class.getName().replace('.', '/'), BtfAgent.MainClassLoaded.SELF);
        BtfAgent.MainClassLoaded m = new BtfAgent.MainClassLoaded();
        m.transform(APP, "io/btfagent/BtfAgent", null, null, new byte[0]);
        m.transform(APP, "io/btfagent/BtfAgent$Init", null, null, new byte[0]);
        m.transform(null, "java/lang/Shutdown", null, null, new byte[0]);
        m.transform(APP.getParent(), "java/sql/Driver", null, null, new byte[0]);
        assertFalse(m.mainSeen());
    }

    @Test
    void anApplicationClassIsTheMainClassEvenInTheAgentsPackage() {
        BtfAgent.MainClassLoaded m = new BtfAgent.MainClassLoaded();
        m.transform(APP, "io/btfagent/bench/MainProbe", null, null, new byte[0]);
        assertTrue(m.mainSeen());
        BtfAgent.MainClassLoaded other = new BtfAgent.MainClassLoaded();
        other.transform(APP, "com/example/Main", null, null, new byte[0]);
        assertTrue(other.mainSeen());
    }
}
