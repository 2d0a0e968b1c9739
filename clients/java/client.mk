# The Java client (clients/java): `mvn package` generates the stubs from protos/ (protoc and
# protoc-gen-grpc-java come from Maven Central as artifacts), compiles, runs the unit tests
# and copies the runtime jars to build/lib; then build/interop runs the driver from there.
# A failing unit test stops make before build/interop is installed. Artifacts go to Maven's
# usual ~/.m2/repository, so later builds on the machine are warm; MVN_FLAGS can move it
# (MVN_FLAGS='-q -B -Dmaven.repo.local=/tmp/m2'). On a 2-core machine: about 21 s with an
# empty repository (84 MB downloaded), about 12 s after a change, nothing when nothing changed.
JAVA_CLIENT := clients/java
JAVA_DRIVER := $(JAVA_CLIENT)/build/interop
MVN ?= mvn
MVN_FLAGS ?= -q -B
TEST_BUILDS += $(JAVA_DRIVER)

JAVA_CLIENT_INPUTS := $(JAVA_CLIENT)/pom.xml $(JAVA_CLIENT)/interop.sh $(wildcard protos/anomalyd/v1/*.proto) \
	$(shell find $(JAVA_CLIENT)/src -type f 2>/dev/null)

$(JAVA_DRIVER): $(JAVA_CLIENT_INPUTS)
	@command -v javac >/dev/null 2>&1 || { echo "error: the Java client ($(JAVA_CLIENT)) needs a JDK 17 or newer (javac) to build its interop driver; install one (apt-get install openjdk-17-jdk-headless) or put it on PATH" >&2; exit 1; }
	@command -v $(MVN) >/dev/null 2>&1 || { echo "error: the Java client ($(JAVA_CLIENT)) needs Maven 3.8 or newer ($(MVN)) to build its interop driver; install it (apt-get install maven) or put it on PATH" >&2; exit 1; }
	cd $(JAVA_CLIENT) && $(MVN) $(MVN_FLAGS) package
	install -m 755 $(JAVA_CLIENT)/interop.sh $@
