#!/bin/sh
# The Java client's interop driver (clients/INTEROP.md). make installs this as
# clients/java/build/interop, beside the classes and the runtime jars that `mvn package` built.
here=$(cd "$(dirname "$0")" && pwd)
exec java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$here/classes:$here/lib/*" io.anomalyd.client.interop.InteropDriver "$@"
