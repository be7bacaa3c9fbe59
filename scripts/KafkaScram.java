// scripts/KafkaScram.java — add, change or remove a SCRAM user on the test broker
// (scripts/kafka.sh scram-set / scram-delete), through the Admin API
// (AlterUserScramCredentials) on the PLAINTEXT listener. Run as a single-file
// source program with the broker's jars on the class path:
//   java -cp 'LIBS/*' scripts/KafkaScram.java HOST:PORT scram-set USER [MECH...]   (password on stdin)
//   java -cp 'LIBS/*' scripts/KafkaScram.java HOST:PORT scram-delete USER [MECH...]
// The password is read from stdin so that it never is on a command line.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialDeletion;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;

public class KafkaScram {
  public static void main(String[] args) throws Exception {
    if (args.length < 3 || !(args[1].equals("scram-set") || args[1].equals("scram-delete"))) {
      System.err.println("usage: KafkaScram HOST:PORT scram-set|scram-delete USER [SCRAM-SHA-256|SCRAM-SHA-512 ...]");
      System.exit(2);
    }
    String user = args[2];
    List<ScramMechanism> mechs = new ArrayList<>();
    for (int i = 3; i < args.length; i++) {
      ScramMechanism m = ScramMechanism.fromMechanismName(args[i].toUpperCase());
      if (m == ScramMechanism.UNKNOWN) {
        System.err.println("unknown SCRAM mechanism: " + args[i]);
        System.exit(2);
      }
      mechs.add(m);
    }
    if (mechs.isEmpty()) mechs = List.of(ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512);
    String password = null;
    if (args[1].equals("scram-set")) {
      password = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
      if (password == null || password.isEmpty()) {
        System.err.println("scram-set: give the password on stdin");
        System.exit(2);
      }
    }
    List<UserScramCredentialAlteration> alter = new ArrayList<>();
    for (ScramMechanism m : mechs) {
      alter.add(password != null ? new UserScramCredentialUpsertion(user, new ScramCredentialInfo(m, 4096), password) : new UserScramCredentialDeletion(user, m));
    }
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
    try (Admin admin = Admin.create(p)) {
      // one request per mechanism: a request may not alter the same user twice
      for (UserScramCredentialAlteration a : alter) admin.alterUserScramCredentials(List.of(a)).all().get(30, TimeUnit.SECONDS);
    }
    System.out.println(args[1] + " " + user + " " + mechs + ": ok");
  }
}
