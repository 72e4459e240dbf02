// Warm-start case for bench/warm.py: a JVM with about 50 MB of heap in use (40 blocks of 1 MiB of random bytes and
// a map of 100000 entries) and its usual threads. Protocol (bench/tlaunch.c): for each line on stdin it prints
// "T <System.nanoTime()>" (CLOCK_MONOTONIC) and "SUM <hex>", a digest of a sample of that state.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Random;

class WarmJava {
  public static void main(String[] args) throws Exception {
    Random r = new Random(42);
    List<byte[]> blocks = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      byte[] b = new byte[1 << 20];
      r.nextBytes(b);
      blocks.add(b);
    }
    HashMap<String, Integer> map = new HashMap<>();
    for (int i = 0; i < 100000; i++) map.put("k" + i, i * 7);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    while (in.readLine() != null) {
      long t = System.nanoTime();
      long s = map.size();
      for (int i = 0; i < 100000; i += 97) s = s * 31 + map.get("k" + i);
      for (byte[] b : blocks) s = s * 31 + b[12345] + b[b.length - 1];
      System.out.println("T " + t);
      System.out.println("SUM " + Long.toHexString(s));
      System.out.flush();
    }
  }
}
