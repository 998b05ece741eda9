# The jars of the Java interop check (scripts/interop/Interop.java, run by
# outboxschema.TestJavaInterop): Apache Avro and Kafka's Java client from Maven Central
# (scripts/interop/pom.xml), fetched once into the cache. Sourced by services.sh:
# `services.sh up interop`. Nothing runs; the test starts the program, a single source
# file that the machine's Java 17 runs without a build.

interop_lib=$cache/interop-lib

interop_up() {
	command -v java >/dev/null || apt_install openjdk-17-jre-headless
	maven_fetch "Apache Avro and Kafka's Java client" "$here/interop/pom.xml" "$interop_lib" \
		copy-dependencies -DincludeScope=runtime -DoutputDirectory="$interop_lib"
}

interop_env() {
	echo "OUTBOX_INTEROP_CLASSPATH=$interop_lib/*"
	echo "OUTBOX_INTEROP_SOURCE=$here/interop/Interop.java"
}
