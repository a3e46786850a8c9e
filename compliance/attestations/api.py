"""Signing keys and image verification in the REST API."""
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from adapters.registry import RegistryError
from compliance.attestations.keyring import keys_document
from compliance.attestations.verification import ReferenceNotFound, ReferenceRefused, reference_verify


class SigningKeySerializer(serializers.Serializer):
    keyid = serializers.CharField()
    algorithm = serializers.CharField()
    publicKey = serializers.CharField()
    status = serializers.ChoiceField(["active", "retiring", "retired"])
    created = serializers.DateTimeField()
    retiredAt = serializers.DateTimeField(allow_null=True)
    verifyUntil = serializers.DateTimeField(allow_null=True)


class SigningKeysSerializer(serializers.Serializer):
    keys = SigningKeySerializer(many=True)


class VerificationCheckSerializer(serializers.Serializer):
    name = serializers.CharField()
    ok = serializers.BooleanField()
    detail = serializers.CharField()


class ImageVerificationSerializer(serializers.Serializer):
    verified = serializers.BooleanField()
    repository = serializers.CharField()
    digest = serializers.CharField()
    checks = VerificationCheckSerializer(many=True)
    verdict = serializers.JSONField(allow_null=True)
    ignored = serializers.ListField(child=serializers.CharField())


class SigningKeysView(APIView):
    @extend_schema(responses={200: SigningKeysSerializer})
    def get(self, request):
        """The portal's signing keys: the active one, and retired ones with the end of their overlap."""
        return Response(keys_document())


class ImageVerifyView(APIView):
    @extend_schema(parameters=[OpenApiParameter("ref", str, required=True,
                                                description="registry/published/<team>/<name>[:tag][@sha256:...]")],
                   responses={200: ImageVerificationSerializer, 400: OpenApiResponse(description="Not a published image's reference"),
                              404: OpenApiResponse(description="No such published image you may see"),
                              503: OpenApiResponse(description="The registry did not answer")},
                   operation_id="images_verify")
    def get(self, request):
        """Verify a published image as admission would: the portal's signature, provenance, SBOM and
        a compliant, unexpired latest verdict. 200 either way; `verified` and each check's reason say."""
        text = request.query_params.get("ref", "")
        if not text.strip():
            raise ValidationError({"ref": "Name the image: registry/published/<team>/<name>[:tag][@digest]."})
        try:
            report = reference_verify(text, user=request.user)
        except ReferenceRefused as error:
            raise ValidationError({"ref": str(error)})
        except ReferenceNotFound as error:
            raise NotFound(str(error))
        except RegistryError as error:
            return Response({"detail": f"The registry could not be read: {error}"}, status=503)
        return Response(report.to_dict())
